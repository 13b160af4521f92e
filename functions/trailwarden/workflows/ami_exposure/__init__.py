"""ami-exposure."""
