"""Demo drivers, one per workflow, registered explicitly."""

from __future__ import annotations

from trailwarden_local.drivers import (
    ami_exposure,
    app_tamper,
    cloudtrail_tamper,
    ec2_keypair,
    iam_user_change,
    sg_change,
    sg_open_ingress,
    ssm_session,
    waf_change,
    waf_protected_ip,
)
from trailwarden_local.drivers.base import Driver, Prepared

DRIVERS: dict[str, Driver] = {
    "cloudtrail-tamper": cloudtrail_tamper.prepare,
    "app-tamper": app_tamper.prepare,
    "ami-exposure": ami_exposure.prepare,
    "sg-open-ingress": sg_open_ingress.prepare,
    "sg-change": sg_change.prepare,
    "iam-user-change": iam_user_change.prepare,
    "ssm-session": ssm_session.prepare,
    "ec2-keypair": ec2_keypair.prepare,
    "waf-protected-ip": waf_protected_ip.prepare,
    "waf-change": waf_change.prepare,
}

__all__ = ["DRIVERS", "Driver", "Prepared"]
