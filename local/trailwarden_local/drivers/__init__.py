"""Demo drivers, one module per workflow, found by listing this package: the module
``<workflow_id with underscores>.py`` that defines ``prepare`` drives that workflow."""

from __future__ import annotations

import importlib
import pkgutil

from trailwarden_local.drivers.base import Driver, Prepared


def _discover() -> dict[str, Driver]:
    found: dict[str, Driver] = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        prepare = getattr(module, "prepare", None)
        if callable(prepare):
            found[info.name.replace("_", "-")] = prepare
    return found


DRIVERS: dict[str, Driver] = _discover()

__all__ = ["DRIVERS", "Driver", "Prepared"]
