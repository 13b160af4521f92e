"""sg-change."""
