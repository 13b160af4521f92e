"""waf-protected-ip."""
