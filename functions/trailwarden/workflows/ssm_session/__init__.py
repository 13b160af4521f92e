"""ssm-session."""
