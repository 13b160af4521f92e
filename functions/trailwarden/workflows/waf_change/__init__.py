"""waf-change: web ACLs created, changed or deleted (alert only)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from trailwarden.models.modes import Mode
from trailwarden.workflows.declaration import (
    Declaration,
    FunctionSpec,
    ModeParameter,
    Rule,
    Text,
)

if TYPE_CHECKING:
    from trailwarden.workflows.declaration import Workflow

DECLARATION = Declaration(
    id="waf-change",
    title="web ACLs created, changed or deleted",
    mode=ModeParameter(
        "WafChangeMode",
        Mode.ALERT,
        "waf-change: alerts when a web ACL is created, changed or deleted; off ignores them.",
    ),
    rules=(
        Rule(
            "WebAclChanged",
            source=("aws.wafv2",),
            detail={
                "eventSource": ["wafv2.amazonaws.com"],
                "eventName": ["CreateWebACL", "UpdateWebACL", "DeleteWebACL"],
            },
            target="alert",
            why="CLOUDFRONT-scope web ACLs are logged in us-east-1: outside us-east-1 "
            "they arrive through the forwarder (forwarder/template.yaml).",
        ),
    ),
    alert=FunctionSpec("waf-change - alert when a web ACL is created, changed or deleted"),
    facts={
        "webAclName": Text("Web ACL", "웹 ACL"),
        "scope": Text("WAF scope", "WAF 범위"),
        "wafRegion": Text("WAF region", "WAF 리전"),
        "defaultAction": Text("Default action", "기본 동작"),
        "rules": Text("Rules", "규칙"),
    },
    what={
        "CreateWebACL": Text("web ACL created", "웹 ACL 생성"),
        "UpdateWebACL": Text("web ACL changed", "웹 ACL 변경"),
        "DeleteWebACL": Text("web ACL deleted", "웹 ACL 삭제"),
    },
)


def load() -> Workflow:
    from trailwarden.workflows.declaration import Workflow
    from trailwarden.workflows.waf_change import detection

    return Workflow(DECLARATION, triggers=detection.TRIGGERS, detect=detection.detect)
