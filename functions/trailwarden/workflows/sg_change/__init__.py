"""sg-change: security-group changes the security team wants to see (info alerts)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from trailwarden.models.modes import Mode
from trailwarden.workflows.declaration import Declaration, FunctionSpec, ModeParameter, Rule

if TYPE_CHECKING:
    from trailwarden.workflows.declaration import Workflow

DECLARATION = Declaration(
    id="sg-change",
    title="security groups created or deleted, ingress revoked, egress changed",
    mode=ModeParameter(
        "SgChangeMode",
        Mode.ALERT,
        "sg-change: info alerts for security groups created or deleted, ingress revoked "
        "and egress changed; off ignores them.",
    ),
    rules=(
        Rule(
            "SecurityGroupChanged",
            source=("aws.ec2",),
            detail={
                "eventSource": ["ec2.amazonaws.com"],
                "eventName": [
                    "CreateSecurityGroup",
                    "DeleteSecurityGroup",
                    "RevokeSecurityGroupIngress",
                    "AuthorizeSecurityGroupEgress",
                    "RevokeSecurityGroupEgress",
                ],
            },
            target="alert",
        ),
    ),
    alert=FunctionSpec("sg-change - info alert for security group create/delete, revoke, egress"),
    # Our own revokes (sg-open-ingress) are reported by that workflow.
    ignores_calls_of=("sg-open-ingress",),
)


def load() -> Workflow:
    from trailwarden.workflows.declaration import Workflow
    from trailwarden.workflows.sg_change import detection

    return Workflow(DECLARATION, triggers=detection.TRIGGERS, detect=detection.detect)
