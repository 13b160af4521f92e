"""``make template``: template.yaml (and the forwarder template) written from the workflow
declarations (functions/trailwarden/workflows/) and the hand-written base (deploy/)."""
