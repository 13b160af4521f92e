"""Demo drivers, one per workflow, registered explicitly."""

from __future__ import annotations

from trailwarden_local.drivers import ami_exposure, ec2_keypair, iam_user_change, ssm_session
from trailwarden_local.drivers.base import Driver, Prepared

DRIVERS: dict[str, Driver] = {
    "ami-exposure": ami_exposure.prepare,
    "iam-user-change": iam_user_change.prepare,
    "ssm-session": ssm_session.prepare,
    "ec2-keypair": ec2_keypair.prepare,
}

__all__ = ["DRIVERS", "Driver", "Prepared"]
