"""waf-protected-ip: a WAF IP set now holds one of the company's own (protected) IPs ->
ask for approval -> on approval remove exactly those entries."""

from __future__ import annotations

from typing import TYPE_CHECKING

from trailwarden.models.modes import Mode
from trailwarden.workflows.declaration import (
    ACTING_MODES,
    Declaration,
    FunctionSpec,
    ModeParameter,
    Rule,
    Text,
    UnitParameter,
)

if TYPE_CHECKING:
    from trailwarden.workflows.declaration import Workflow

DECLARATION = Declaration(
    id="waf-protected-ip",
    title="a protected IP (ours, or a NAT gateway's) put in a WAF IP set",
    mode=ModeParameter(
        "WafProtectedIpMode",
        Mode.APPROVAL,
        "waf-protected-ip: approval (default) posts an approval link and removes the "
        "protected IPs from the WAF IP set only after a human approves; remediate removes "
        "them at once; alert only tells; off ignores the workflow.",
        ACTING_MODES,
    ),
    rules=(
        Rule(
            "IpSetUpdated",
            source=("aws.wafv2",),
            detail={"eventSource": ["wafv2.amazonaws.com"], "eventName": ["UpdateIPSet"]},
            why="REGIONAL-scope calls are logged in this region. CLOUDFRONT-scope calls are "
            "made to and logged in us-east-1: outside us-east-1 they reach this rule only "
            "through the us-east-1 forwarder rule.",
        ),
    ),
    assess=FunctionSpec(
        "waf-protected-ip - protected IPs (config + live NAT EIPs) in an IP set, blocking use",
        reads=("ProtectedIpCidrs",),
    ),
    remediate=FunctionSpec(
        "waf-protected-ip - remove exactly the protected entries (lock token, retry), verify"
    ),
    parameters=(UnitParameter("ProtectedIpCidrs", "PROTECTED_IP_CIDRS", "Policy"),),
    facts={
        "ipSetName": Text("IP set", "IP 세트"),
        "scope": Text("WAF scope", "WAF 범위"),
        "wafRegion": Text("WAF region", "WAF 리전"),
        "webAclUsage": Text("Used to block", "차단에 사용"),
        "natLookupError": Text("NAT gateway lookup failed", "NAT 게이트웨이 조회 실패"),
    },
    fact_values={
        "webAclUsage": {
            "blocking": Text("yes, by a blocking rule", "예, 차단 규칙에서 사용"),
            "not-blocking": Text("no blocking rule uses it", "차단 규칙에서 사용 안 함"),
            "unknown": Text("unknown: assumed yes", "알 수 없음: 사용 중으로 간주"),
        },
    },
    what={"UpdateIPSet": Text("protected IP in a WAF IP set", "WAF IP 세트에 보호 대상 IP")},
)


def load() -> Workflow:
    from trailwarden.workflows.declaration import Remediation, Workflow
    from trailwarden.workflows.waf_protected_ip import detection, lookups, remediation

    return Workflow(
        DECLARATION,
        triggers=detection.TRIGGERS,
        detect=detection.detect,
        live_detect=lookups.live_detect,
        remediation=Remediation(
            assess_grants=lookups.ASSESS_GRANTS,
            remediate_grants=remediation.REMEDIATE_GRANTS,
            live_state=lambda rid, _region, clients, s: remediation.live_state(rid, clients, s),
            plan=lambda rid, facts, state, _s: remediation.plan_for(rid, facts, state),
            # Removes the entries inside the protected networks Assess saw (facts), re-read live.
            apply=lambda rid, facts, _region, clients, s: remediation.remediate(
                rid, facts, clients, s
            ),
        ),
    )
