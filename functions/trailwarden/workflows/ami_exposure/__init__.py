"""ami-exposure: an AMI made public or shared with an untrusted account -> remove exactly
the offending launch permissions, keep trusted ones."""

from __future__ import annotations

from typing import TYPE_CHECKING

from trailwarden.models.modes import Mode
from trailwarden.workflows.declaration import (
    ACTING_MODES,
    Declaration,
    FunctionSpec,
    ModeParameter,
    Rule,
)

if TYPE_CHECKING:
    from trailwarden.workflows.declaration import Workflow

DECLARATION = Declaration(
    id="ami-exposure",
    title="AMI launch permission opened to everyone or an untrusted account",
    mode=ModeParameter(
        "AmiExposureMode",
        Mode.REMEDIATE,
        "ami-exposure: remediate removes public/untrusted launch permissions at once, "
        "approval waits for a human to approve through the approval link first, alert "
        "only tells, off ignores the workflow.",
        ACTING_MODES,
    ),
    rules=(
        Rule(
            "LaunchPermissionAdded",
            source=("aws.ec2",),
            detail={
                "eventSource": ["ec2.amazonaws.com"],
                "eventName": ["ModifyImageAttribute"],
                "requestParameters": {
                    "$or": [
                        {"launchPermission": {"add": {"items": {key: [{"exists": True}]}}}}
                        for key in ("group", "userId", "organizationArn", "organizationalUnitArn")
                    ]
                    + [{"operationType": ["add"]}]
                },
            },
        ),
    ),
    assess=FunctionSpec(
        "ami-exposure - detect, re-read launch permissions, claim the incident",
        reads=("TrustedAccountIds",),
    ),
    remediate=FunctionSpec(
        "ami-exposure - remove public and untrusted launch permissions, verify",
        reads=("TrustedAccountIds",),
    ),
)


def load() -> Workflow:
    from trailwarden.workflows.ami_exposure import detection, remediation
    from trailwarden.workflows.declaration import Workflow
    from trailwarden.workflows.shares import share_remediation

    return Workflow(
        DECLARATION,
        triggers=detection.TRIGGERS,
        detect=detection.detect,
        remediation=share_remediation(remediation),
    )
