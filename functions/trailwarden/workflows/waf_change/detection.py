"""waf-change: web ACLs created, changed or deleted (alert only).

A web ACL decides who reaches the company's services; a deleted or rewritten one can
open the door or shut the customers out. ``CreateWebACL``, ``UpdateWebACL`` and
``DeleteWebACL`` each raise an alert naming the web ACL, its scope and, for create and
update, its default action and rules as the request set them. Failed calls and the
app's own calls are ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from trailwarden.models.findings import Detection, Outcome, Severity
from trailwarden.workflows.common import as_list, text_of
from trailwarden.workflows.waf_change import DECLARATION
from trailwarden.workflows.waf_protected_ip.detection import CLOUDFRONT_REGION, EVENT_SOURCE

if TYPE_CHECKING:
    from trailwarden.models.events import CloudTrailEvent
    from trailwarden.models.settings import DetectionSettings

WORKFLOW = DECLARATION.id
_EVENTS = ("CreateWebACL", "UpdateWebACL", "DeleteWebACL")
TRIGGERS = frozenset((EVENT_SOURCE, name) for name in _EVENTS)
RESOURCE_TYPE = "AWS::WAFv2::WebACL"

_VERB = {"CreateWebACL": "created", "UpdateWebACL": "changed", "DeleteWebACL": "deleted"}
_SEVERITY = {
    "CreateWebACL": Severity.INFO,
    "UpdateWebACL": Severity.MEDIUM,
    "DeleteWebACL": Severity.HIGH,
}


def _action(value: Any) -> str:
    """``{"block": {}}`` / ``{"Block": {}}`` -> ``Block``."""
    if isinstance(value, Mapping) and value:
        name = str(next(iter(value)))
        return name[:1].upper() + name[1:]
    return ""


def _get(mapping: Mapping[str, Any], key: str) -> Any:
    """CloudTrail logs WAFv2 request keys in camelCase; tolerate PascalCase too."""
    return mapping.get(key, mapping.get(key[:1].upper() + key[1:]))


def _rules(request: Mapping[str, Any]) -> list[str]:
    out = []
    for rule in as_list(_get(request, "rules")):
        if not isinstance(rule, Mapping):
            continue
        name = text_of(_get(rule, "name")) or "?"
        action = _action(_get(rule, "action")) or (
            "override " + (_action(_get(rule, "overrideAction")) or "none")
        )
        out.append(f"{name}: {action}")
    return out


def detect(event: CloudTrailEvent, settings: DetectionSettings) -> Detection:
    request, response = event.request, event.response
    name = text_of(_get(request, "name"))
    acl_id = text_of(_get(request, "id"))
    summary = _get(response, "summary")
    if isinstance(summary, Mapping):
        name = name or text_of(_get(summary, "name"))
        acl_id = acl_id or text_of(_get(summary, "id"))
    scope = text_of(_get(request, "scope")).upper()
    arn = (
        text_of(_get(summary, "aRN") or _get(summary, "arn"))
        if isinstance(summary, Mapping)
        else ""
    )
    facts: dict[str, Any] = {
        "webAclName": name,
        "webAclId": acl_id,
        "scope": scope,
        "wafRegion": CLOUDFRONT_REGION if scope == "CLOUDFRONT" else event.aws_region,
    }
    if event.event_name != "DeleteWebACL":
        facts["defaultAction"] = _action(_get(request, "defaultAction"))
        facts["rules"] = _rules(request)
    verb = _VERB.get(event.event_name, event.event_name)
    what = f"web ACL {name or acl_id or '?'} ({scope or 'scope unknown'}) {verb}"
    if facts.get("defaultAction"):
        what += f"; default action {facts['defaultAction']}"
    if "rules" in facts:
        what += f"; {len(facts['rules'])} rule(s)"
    return Detection(
        WORKFLOW,
        Outcome.ALERT,
        _SEVERITY.get(event.event_name, Severity.MEDIUM),
        what,
        RESOURCE_TYPE,
        arn or acl_id or name,
        facts,
    )
