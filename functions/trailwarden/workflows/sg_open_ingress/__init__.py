"""sg-open-ingress: a security group opened to the world on a risky port -> revoke exactly
the rules the call added."""

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

_READS = ("AllowedPublicPorts", "ExemptSecurityGroupIds")

DECLARATION = Declaration(
    id="sg-open-ingress",
    title="security group opened to the internet on a port that must not be",
    mode=ModeParameter(
        "SgOpenIngressMode",
        Mode.REMEDIATE,
        "sg-open-ingress: remediate revokes world-open ingress on ports outside "
        "AllowedPublicPorts at once, approval waits for a human to approve through the "
        "approval link first, alert only tells, off ignores the workflow.",
        ACTING_MODES,
    ),
    rules=(
        Rule(
            "IngressOpened",
            source=("aws.ec2",),
            detail={
                "eventSource": ["ec2.amazonaws.com"],
                "eventName": ["AuthorizeSecurityGroupIngress", "ModifySecurityGroupRules"],
            },
        ),
    ),
    assess=FunctionSpec(
        "sg-open-ingress - detect world-open ingress, re-read the group's rules", reads=_READS
    ),
    remediate=FunctionSpec(
        "sg-open-ingress - revoke exactly the risky rules by rule id, verify", reads=_READS
    ),
)


def load() -> Workflow:
    from trailwarden.workflows.declaration import Remediation, Workflow
    from trailwarden.workflows.sg_open_ingress import detection, remediation

    return Workflow(
        DECLARATION,
        triggers=detection.TRIGGERS,
        detect=detection.detect,
        remediation=Remediation(
            assess_grants=remediation.ASSESS_GRANTS,
            remediate_grants=remediation.REMEDIATE_GRANTS,
            live_state=lambda rid, region, clients, _s: remediation.live_state(
                rid, region, clients
            ),
            plan=lambda rid, facts, state, s: remediation.plan_for(
                rid, facts, state, s.allowed_public_ports
            ),
            apply=lambda rid, facts, region, clients, s: remediation.remediate(
                rid, facts, region, clients, s.allowed_public_ports, s.exempt_security_group_ids
            ),
        ),
    )
