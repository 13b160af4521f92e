"""Demo driver for waf-protected-ip: a WAF IP set used by a web ACL, then the recorded call.

``setup``:

* ``ipSet``: ``{"name", "scope", "version", "addresses", "description"}`` — the set
  before the call (REGIONAL sets live in the app's region, CLOUDFRONT ones in us-east-1).
* ``webAcl``: ``{"name", "action": "Block"|"Allow"|..., "negated": bool}`` — a web ACL
  with one rule referencing the set (omit for a set no web ACL uses).
* ``natGatewayIp``: give the account a NAT gateway whose Elastic IP is this address
  (moto allocates the exact address), so Assess finds it live.
* ``approval``: what the human does with the link (``approve``, ``reject``, or
  ``expire``: nobody decides); the demo drives it over HTTP.
* ``probe``: addresses to test against the set read back: ``read_state`` then adds
  ``"blocks": {address: bool}`` (is the address inside any entry?), computed here with
  ``ipaddress`` from the plain ``GetIPSet`` answer, never with the code under test. A
  carve-out shows as the NAT IP ``false`` and its neighbours ``true``.

The driver then makes the call the event records (UpdateIPSet with the event's address
list, unless the call failed) and ``read_state`` returns ``{"addresses": [...]}``.
"""

from __future__ import annotations

import copy
import ipaddress
from typing import TYPE_CHECKING, Any

from trailwarden_local.drivers.base import Prepared, client, own_role_arn, rewrite_issuer

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from trailwarden_local.engine import LocalApp
    from trailwarden_local.samples import Sample

CLOUDFRONT_REGION = "us-east-1"  # CLOUDFRONT-scope WAF calls are made to us-east-1 (AWS)
_VISIBILITY = {
    "SampledRequestsEnabled": False,
    "CloudWatchMetricsEnabled": False,
    "MetricName": "trailwarden-demo",
}


def wafv2_client(app: LocalApp, scope: str) -> Any:
    region = CLOUDFRONT_REGION if scope == "CLOUDFRONT" else app.region
    return client(app, "wafv2", region)


def add_nat_gateway(app: LocalApp, public_ip: str) -> str:
    """A NAT gateway whose Elastic IP is exactly ``public_ip``; returns its id."""
    ec2 = client(app, "ec2")
    vpc = ec2.create_vpc(CidrBlock="10.40.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.40.1.0/24")["Subnet"]["SubnetId"]
    allocation = ec2.allocate_address(Domain="vpc", Address=public_ip)["AllocationId"]
    gateway = ec2.create_nat_gateway(SubnetId=subnet, AllocationId=allocation)
    return str(gateway["NatGateway"]["NatGatewayId"])


def add_web_acl(wafv2: Any, ip_set_arn: str, scope: str, spec: Mapping[str, Any]) -> str:
    """A web ACL with one rule on the set (``negated``: NOT in the set). Returns its ARN."""
    reference: dict[str, Any] = {"IPSetReferenceStatement": {"ARN": ip_set_arn}}
    statement = {"NotStatement": {"Statement": reference}} if spec.get("negated") else reference
    action = str(spec.get("action", "Block"))
    summary = wafv2.create_web_acl(
        Name=str(spec.get("name", "demo-web-acl")),
        Scope=scope,
        DefaultAction={str(spec.get("defaultAction", "Allow")): {}},
        VisibilityConfig=_VISIBILITY,
        Rules=[
            {
                "Name": str(spec.get("rule", "ip-blocklist")),
                "Priority": 1,
                "Action": {action: {}},
                "Statement": statement,
                "VisibilityConfig": _VISIBILITY,
            }
        ],
    )["Summary"]
    return str(summary["ARN"])


def read_addresses(
    wafv2: Any, name: str, scope: str, ip_set_id: str, probe: Sequence[str] = ()
) -> dict[str, Any]:
    body = wafv2.get_ip_set(Name=name, Scope=scope, Id=ip_set_id)["IPSet"]
    addresses = list(body.get("Addresses", []))
    state: dict[str, Any] = {"addresses": addresses}
    if probe:
        networks = [ipaddress.ip_network(a, strict=False) for a in addresses]
        state["blocks"] = {
            address: any(ipaddress.ip_address(address) in n for n in networks) for address in probe
        }
    return state


def prepare(app: LocalApp, sample: Sample) -> Prepared:
    setup = sample.setup
    spec = setup.get("ipSet", {})
    scope = str(spec.get("scope", "REGIONAL"))
    name = str(spec.get("name", "blocklist"))
    wafv2 = wafv2_client(app, scope)
    if setup.get("natGatewayIp"):
        add_nat_gateway(app, str(setup["natGatewayIp"]))
    kwargs: dict[str, Any] = {
        "Name": name,
        "Scope": scope,
        "IPAddressVersion": str(spec.get("version", "IPV4")),
        "Addresses": list(spec.get("addresses", [])),
    }
    if spec.get("description"):
        kwargs["Description"] = str(spec["description"])
    created = wafv2.create_ip_set(**kwargs)["Summary"]
    ip_set_id, arn = str(created["Id"]), str(created["ARN"])
    if setup.get("webAcl"):
        add_web_acl(wafv2, arn, scope, setup["webAcl"])

    event = copy.deepcopy(sample.event)
    detail = event["detail"]
    request = detail["requestParameters"]
    request.update({"name": name, "scope": scope, "id": ip_set_id})
    if sample.own_role:
        rewrite_issuer(event, own_role_arn(app, "WafProtectedIpRemediateFunction"))
    if not detail.get("errorCode") and isinstance(request.get("addresses"), list):
        lock = wafv2.get_ip_set(Name=name, Scope=scope, Id=ip_set_id)["LockToken"]
        update: dict[str, Any] = {
            "Name": name,
            "Scope": scope,
            "Id": ip_set_id,
            "Addresses": list(request["addresses"]),
            "LockToken": lock,
        }
        if spec.get("description"):
            update["Description"] = str(spec["description"])
        request["lockToken"] = lock
        wafv2.update_ip_set(**update)
    probe = [str(a) for a in setup.get("probe", [])]
    return Prepared(
        event=event, read_state=lambda: read_addresses(wafv2, name, scope, ip_set_id, probe)
    )
