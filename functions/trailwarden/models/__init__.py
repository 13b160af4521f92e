"""Plain data: the event model, findings, errors, modes and settings."""
