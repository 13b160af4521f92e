"""AWS Config custom rules the template creates (evaluators: configuration item -> result)."""
