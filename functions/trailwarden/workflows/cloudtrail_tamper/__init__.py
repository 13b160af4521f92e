"""cloudtrail-tamper."""
