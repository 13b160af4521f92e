"""sg-open-ingress."""
