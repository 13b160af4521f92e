"""Give provisioned functions a parameter value the template's patterns would refuse.

The local engine checks every parameter against the template's AllowedPattern, and
those patterns are being tightened; the code must still survive a value that slips
through. So these tests put the careless value straight into the environment of the
functions that carry the variable (where the deployed app would put it), before any
function has run: handlers read their settings once per cold start.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping

    from trailwarden_local.engine import LocalApp


def set_function_env(app: LocalApp, values: Mapping[str, str]) -> frozenset[str]:
    """Set ``values`` in every function whose environment has the variable; returns the
    logical ids changed (at least one, or the test would prove nothing)."""
    assert not app.invocations, "set the environment before any function runs"
    changed = set()
    for logical_id, function in list(app.functions.items()):
        present = {key: value for key, value in values.items() if key in function.environment}
        if present:
            environment = {**function.environment, **present}
            app.functions[logical_id] = replace(function, environment=environment)
            changed.add(logical_id)
    assert changed, f"no provisioned function has {sorted(values)}"
    return frozenset(changed)
