"""iam-user-change."""
