"""app-tamper."""
