"""waf-change."""
