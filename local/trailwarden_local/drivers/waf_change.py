"""Demo driver for waf-change: make the web ACL call the event records, in the emulator.

``setup``: ``{"exists": true}`` when the web ACL exists before the call (update and
delete). ``read_state`` returns ``{"webAcl": name, "exists": bool}``.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from trailwarden_local.drivers.base import Prepared
from trailwarden_local.drivers.waf_protected_ip import wafv2_client

if TYPE_CHECKING:
    from trailwarden_local.engine import LocalApp
    from trailwarden_local.samples import Sample

_VISIBILITY = {
    "SampledRequestsEnabled": False,
    "CloudWatchMetricsEnabled": False,
    "MetricName": "trailwarden-demo",
}


def _exists(wafv2: Any, scope: str, name: str) -> dict[str, Any]:
    acls = wafv2.list_web_acls(Scope=scope).get("WebACLs", [])
    return {"webAcl": name, "exists": any(a["Name"] == name for a in acls)}


def prepare(app: LocalApp, sample: Sample) -> Prepared:
    event = copy.deepcopy(sample.event)
    detail = event["detail"]
    request = detail["requestParameters"]
    scope = str(request.get("scope", "REGIONAL")).upper()
    name = str(request.get("name", "demo-web-acl"))
    wafv2 = wafv2_client(app, scope)
    acl_id = ""
    if sample.setup.get("exists"):
        summary = wafv2.create_web_acl(
            Name=name,
            Scope=scope,
            DefaultAction={"Allow": {}},
            VisibilityConfig=_VISIBILITY,
            Rules=[],
        )["Summary"]
        acl_id = str(summary["Id"])
        request["id"] = acl_id
    if not detail.get("errorCode"):
        if detail["eventName"] == "CreateWebACL":
            wafv2.create_web_acl(
                Name=name,
                Scope=scope,
                DefaultAction={"Allow": {}},
                VisibilityConfig=_VISIBILITY,
                Rules=[],
            )
        elif detail["eventName"] == "DeleteWebACL" and acl_id:
            lock = wafv2.get_web_acl(Name=name, Scope=scope, Id=acl_id)["LockToken"]
            wafv2.delete_web_acl(Name=name, Scope=scope, Id=acl_id, LockToken=lock)
    return Prepared(event=event, read_state=lambda: _exists(wafv2, scope, name))
