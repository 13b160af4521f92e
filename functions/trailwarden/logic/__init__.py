"""Use cases: decide, assess, remediate, alert, report and the backstop."""
