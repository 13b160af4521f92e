"""One unit per workflow (detection and remediation side by side) and the registry."""
