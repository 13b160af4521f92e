"""Demo drivers, one per workflow, registered explicitly."""

from __future__ import annotations

from trailwarden_local.drivers import ami_exposure
from trailwarden_local.drivers.base import Driver, Prepared

DRIVERS: dict[str, Driver] = {
    "ami-exposure": ami_exposure.prepare,
}

__all__ = ["DRIVERS", "Driver", "Prepared"]
