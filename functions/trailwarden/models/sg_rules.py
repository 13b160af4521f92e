"""Security-group ingress rules: one model for CloudTrail requests, responses and live reads.

Every shape reads into :class:`IngressRule`, one rule per source (CIDR, prefix list or
referenced group), the way ``DescribeSecurityGroupRules`` lists them:

- AuthorizeSecurityGroupIngress, nested: ``ipPermissions.items[]`` with ``ipRanges`` /
  ``ipv6Ranges`` / ``prefixListIds`` / ``groups`` (an empty one is logged as ``{}``);
- AuthorizeSecurityGroupIngress, flat (CLI ``--cidr --port --protocol``): ``cidrIp``,
  ``fromPort``, ``toPort``, ``ipProtocol`` at the top level and ``ipPermissions: {}``;
- its response ``securityGroupRuleSet.items[]`` (rule ids, ``cidrIpv4`` / ``cidrIpv6``);
- ModifySecurityGroupRules, PascalCase under ``ModifySecurityGroupRulesRequest``;
- ``DescribeSecurityGroupRules`` (PascalCase, the live state).

Ports may be logged as strings and protocols by number; both are normalised.

Risk (DESIGN §2): a *world-open* source (IPv4 prefix shorter than /8, IPv6 shorter
than /32, except IPv6 ranges that lie wholly in unique-local fc00::/7, link-local or
multicast space: fd00::/8 is private however short) reaching any port outside the
allowed public ports. Protocol ``-1`` and any protocol other than tcp/udp/icmp/icmpv6
allow every port (EC2 API: IpPermission). ICMP and ICMPv6 have no ports (their
"ports" are ICMP type and code), so world-open ICMP never reaches a TCP/UDP port and
is not risky: ping and path-MTU discovery (ICMPv6 "packet too big") from anywhere are
ordinary, and the EC2 documentation gives them no port semantics. Prefix lists and
security-group references are never world-open: their members are managed elsewhere.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from trailwarden.workflows.common import as_list, text_of

IPV4 = "ipv4"
IPV6 = "ipv6"
PREFIX_LIST = "prefix-list"
SECURITY_GROUP = "security-group"

ALL_PROTOCOLS = "-1"
# Protocols whose port range means something; any other protocol allows every port.
PORTED_PROTOCOLS = frozenset({"tcp", "udp"})
ICMP_PROTOCOLS = frozenset({"icmp", "icmpv6"})
_PORTED_OR_ICMP = PORTED_PROTOCOLS | ICMP_PROTOCOLS
_PROTOCOL_NAMES = {"6": "tcp", "17": "udp", "1": "icmp", "58": "icmpv6", "all": ALL_PROTOCOLS}

# Shorter prefixes than these cover so much of the address space that we treat the
# source as "the internet" (0.0.0.0/0, 0.0.0.0/1, ..., ::/0, 2000::/3 ...).
WORLD_OPEN_IPV4_PREFIX = 8
WORLD_OPEN_IPV6_PREFIX = 32

# IPv6 ranges shorter than /32 that are still not the internet: unique-local
# (fc00::/7, e.g. fd00::/8), link-local and multicast. No IPv4 block shorter than /8
# is private, so IPv4 needs no such list.
NON_PUBLIC_IPV6 = tuple(ipaddress.IPv6Network(n) for n in ("fc00::/7", "fe80::/10", "ff00::/8"))

MIN_PORT, MAX_PORT = 0, 65535

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def normalize_protocol(value: Any) -> str:
    """'6' -> 'tcp', '58' -> 'icmpv6', 'ALL' -> '-1'; other numbers stay numbers.

    A missing protocol reads as '-1' (all traffic): the conservative reading.
    """
    if isinstance(value, bool):
        return ALL_PROTOCOLS
    text = str(value).strip().lower() if isinstance(value, str | int) else ""
    if not text:
        return ALL_PROTOCOLS
    if text.lstrip("-").isdigit():
        text = str(int(text))
    return _PROTOCOL_NAMES.get(text, text)


def port_of(value: Any) -> int | None:
    """Ports are logged as numbers or strings ("22"); anything else is None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    return None


def network_of(source: str) -> IpNetwork | None:
    return _network(source.strip())


@lru_cache(maxsize=1024)  # the same few CIDRs recur in every log (networks are immutable)
def _network(text: str) -> IpNetwork | None:
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        return None


@lru_cache(maxsize=1024)  # a function of the text: the same few sources recur in logs
def _world_open(source: str) -> bool:
    """An address source reaching the internet at large (see IngressRule.world_open)."""
    net = network_of(source)
    if net is None:
        return False
    if isinstance(net, ipaddress.IPv4Network):
        return net.prefixlen < WORLD_OPEN_IPV4_PREFIX
    if any(net.subnet_of(private) for private in NON_PUBLIC_IPV6):
        return False
    return net.prefixlen < WORLD_OPEN_IPV6_PREFIX


@dataclass(frozen=True)
class IngressRule:
    """One ingress rule: a protocol and port range from one source."""

    protocol: str
    from_port: int | None
    to_port: int | None
    source: str
    source_type: str  # ipv4 | ipv6 | prefix-list | security-group
    rule_id: str = ""

    @property
    def all_ports(self) -> bool:
        """True when the protocol ignores ports: -1 or anything but tcp/udp/icmp/icmpv6."""
        return self.protocol not in _PORTED_OR_ICMP

    @property
    def network(self) -> IpNetwork | None:
        return network_of(self.source) if self.source_type in (IPV4, IPV6) else None

    @property
    def world_open(self) -> bool:
        return self.source_type in (IPV4, IPV6) and _world_open(self.source)

    def port_range(self) -> tuple[int, int] | None:
        """The TCP/UDP ports reached, inclusive; None for ICMP (it has no ports)."""
        if self.protocol in ICMP_PROTOCOLS:
            return None
        if self.all_ports:
            return MIN_PORT, MAX_PORT
        low, high = self.from_port, self.to_port
        if low is None or high is None or low < MIN_PORT or high < low or high > MAX_PORT:
            return MIN_PORT, MAX_PORT  # unreadable range: assume every port
        return low, high

    def same_permission(self, other: IngressRule) -> bool:
        """Exactly the same protocol, ports and source (rule ids are not compared)."""
        if self.protocol != other.protocol or self.source_type != other.source_type:
            return False
        if not self.all_ports and (self.from_port, self.to_port) != (
            other.from_port,
            other.to_port,
        ):
            return False
        if self.source_type in (IPV4, IPV6):
            mine, theirs = self.network, other.network
            return mine is not None and mine == theirs
        return self.source == other.source

    def label(self, direction: str = "from") -> str:
        """Human form for alerts: 'tcp 22 from 0.0.0.0/0', 'all traffic from ::/0'."""
        if self.protocol == ALL_PROTOCOLS:
            what = "all traffic"
        elif self.all_ports:
            what = f"protocol {self.protocol} (all ports)"
        elif self.protocol in ICMP_PROTOCOLS:
            what = f"{self.protocol} type {self.from_port} code {self.to_port}"
        elif self.from_port == self.to_port:
            what = f"{self.protocol} {self.from_port}"
        else:
            what = f"{self.protocol} {self.from_port}-{self.to_port}"
        rule = f" [{self.rule_id}]" if self.rule_id else ""
        return f"{what} {direction} {self.source}{rule}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "ruleId": self.rule_id,
            "protocol": self.protocol,
            "from": self.from_port,
            "to": self.to_port,
            "source": self.source,
            "sourceType": self.source_type,
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> IngressRule:
        return cls(
            protocol=normalize_protocol(raw.get("protocol")),
            from_port=port_of(raw.get("from")),
            to_port=port_of(raw.get("to")),
            source=str(raw.get("source", "")),
            source_type=str(raw.get("sourceType", "")),
            rule_id=str(raw.get("ruleId") or ""),
        )


def disallowed_ports(rule: IngressRule, allowed: frozenset[int]) -> int:
    """How many TCP/UDP ports the rule reaches that are not in ``allowed`` (0 for ICMP)."""
    reach = rule.port_range()
    if reach is None:
        return 0
    low, high = reach
    inside = sum(1 for port in allowed if low <= port <= high)
    return (high - low + 1) - inside


def is_risky(rule: IngressRule, allowed: frozenset[int]) -> bool:
    """World-open and reaching at least one port outside ``allowed``."""
    return rule.world_open and disallowed_ports(rule, allowed) > 0


# --- CloudTrail: AuthorizeSecurityGroupIngress ---------------------------------------


def _sources(permission: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(source, type) of every source in one nested ``ipPermissions`` item."""
    out: list[tuple[str, str]] = []
    for item in as_list(permission.get("ipRanges")):
        cidr = text_of(item.get("cidrIp")) if isinstance(item, Mapping) else text_of(item)
        if cidr:
            out.append((cidr, IPV4))
    for item in as_list(permission.get("ipv6Ranges")):
        cidr = text_of(item.get("cidrIpv6")) if isinstance(item, Mapping) else text_of(item)
        if cidr:
            out.append((cidr, IPV6))
    for item in as_list(permission.get("prefixListIds")):
        pl = text_of(item.get("prefixListId")) if isinstance(item, Mapping) else text_of(item)
        if pl:
            out.append((pl, PREFIX_LIST))
    for item in as_list(permission.get("groups")):
        if isinstance(item, Mapping):
            group = text_of(item.get("groupId")) or text_of(item.get("groupName"))
            if group:
                out.append((group, SECURITY_GROUP))
    return out


def _cidr_type(cidr: str) -> str:
    net = network_of(cidr)
    return IPV6 if net is not None and net.version == 6 else IPV4


def parse_ip_permissions(request: Mapping[str, Any]) -> list[IngressRule]:
    """Rules an AuthorizeSecurityGroupIngress (or Revoke/Egress) request names, both forms."""
    rules: list[IngressRule] = []
    for permission in as_list(request.get("ipPermissions")):
        if not isinstance(permission, Mapping):
            continue
        protocol = normalize_protocol(permission.get("ipProtocol"))
        low, high = port_of(permission.get("fromPort")), port_of(permission.get("toPort"))
        rules += [
            IngressRule(protocol, low, high, source, kind) for source, kind in _sources(permission)
        ]
    flat_cidr = text_of(request.get("cidrIp"))
    flat_group = text_of(request.get("sourceSecurityGroupName")) or text_of(
        request.get("sourceSecurityGroupId")
    )
    if flat_cidr or flat_group:
        protocol = normalize_protocol(request.get("ipProtocol"))
        low, high = port_of(request.get("fromPort")), port_of(request.get("toPort"))
        if flat_cidr:
            rules.append(IngressRule(protocol, low, high, flat_cidr, _cidr_type(flat_cidr)))
        if flat_group:
            rules.append(IngressRule(protocol, low, high, flat_group, SECURITY_GROUP))
    return rules


def request_shape(request: Mapping[str, Any]) -> str:
    """'nested', 'flat' or 'empty': which form of the request CloudTrail logged."""
    if any(isinstance(p, Mapping) and p for p in as_list(request.get("ipPermissions"))):
        return "nested"
    if any(k in request for k in ("cidrIp", "ipProtocol", "sourceSecurityGroupName")):
        return "flat"
    return "empty"


def _rule_from_item(item: Mapping[str, Any], keys: Mapping[str, str]) -> IngressRule | None:
    """One rule from a camelCase (response) or PascalCase (API/request) rule object."""
    sources = (
        (text_of(item.get(keys["v4"])), IPV4),
        (text_of(item.get(keys["v6"])), IPV6),
        (text_of(item.get(keys["pl"])), PREFIX_LIST),
    )
    found = [(s, kind) for s, kind in sources if s]
    ref = item.get(keys["ref"])
    if isinstance(ref, Mapping):
        group = text_of(ref.get(keys["ref_id"]))
        if group:
            found.append((group, SECURITY_GROUP))
    elif isinstance(ref, str) and ref:
        found.append((ref, SECURITY_GROUP))
    protocol = item.get(keys["protocol"])
    # The response logs the protocol as a string; anything else is absent: unreadable.
    if len(found) != 1 or not isinstance(protocol, str):
        return None
    source, kind = found[0]
    return IngressRule(
        protocol=normalize_protocol(protocol),
        from_port=port_of(item.get(keys["from"])),
        to_port=port_of(item.get(keys["to"])),
        source=source,
        source_type=kind,
        rule_id=text_of(item.get(keys["id"])),
    )


_CAMEL = {
    "v4": "cidrIpv4",
    "v6": "cidrIpv6",
    "pl": "prefixListId",
    "ref": "referencedGroupInfo",
    "ref_id": "groupId",
    "protocol": "ipProtocol",
    "from": "fromPort",
    "to": "toPort",
    "id": "securityGroupRuleId",
}
_PASCAL = {
    "v4": "CidrIpv4",
    "v6": "CidrIpv6",
    "pl": "PrefixListId",
    "ref": "ReferencedGroupInfo",
    "ref_id": "GroupId",
    "protocol": "IpProtocol",
    "from": "FromPort",
    "to": "ToPort",
    "id": "SecurityGroupRuleId",
}


@dataclass(frozen=True)
class RuleSet:
    """The ingress rules a response lists, and whether every item could be read."""

    group_id: str
    rules: tuple[IngressRule, ...]
    complete: bool


def parse_rule_set(response: Mapping[str, Any]) -> RuleSet:
    """``responseElements.securityGroupRuleSet.items[]``: the created rules with their ids."""
    items = as_list(response.get("securityGroupRuleSet"))
    rules: list[IngressRule] = []
    group_id = ""
    complete = bool(items)
    for item in items:
        if not isinstance(item, Mapping):
            complete = False
            continue
        group_id = group_id or text_of(item.get("groupId"))
        if item.get("isEgress") in (True, "true"):
            continue
        rule = _rule_from_item(item, _CAMEL)
        if rule is None or not rule.rule_id:
            complete = False
            continue
        rules.append(rule)
    return RuleSet(group_id, tuple(rules), complete and bool(rules))


# --- CloudTrail: ModifySecurityGroupRules --------------------------------------------


def parse_modify_request(request: Mapping[str, Any]) -> tuple[str, list[IngressRule]]:
    """(group id, rules as modified) from ``ModifySecurityGroupRulesRequest`` (PascalCase).

    ``SecurityGroupRule`` is one object per modified rule (a list when several are):
    ``{"SecurityGroupRuleId": ..., "SecurityGroupRule": {"IpProtocol", "FromPort",
    "ToPort", "CidrIpv4" | "CidrIpv6" | "PrefixListId" | "ReferencedGroupId"}}``.
    """
    body = request.get("ModifySecurityGroupRulesRequest")
    if not isinstance(body, Mapping):
        return "", []
    group_id = text_of(body.get("GroupId"))
    rules: list[IngressRule] = []
    for update in as_list(body.get("SecurityGroupRule")) + as_list(body.get("SecurityGroupRules")):
        if not isinstance(update, Mapping):
            continue
        spec = update.get("SecurityGroupRule")
        if not isinstance(spec, Mapping):
            continue
        keys = {**_PASCAL, "ref": "ReferencedGroupId"}
        rule = _rule_from_item(
            {**spec, "SecurityGroupRuleId": update.get("SecurityGroupRuleId")}, keys
        )
        if rule is not None:
            rules.append(rule)
    return group_id, rules


# --- the live state: DescribeSecurityGroupRules --------------------------------------


def from_api(item: Mapping[str, Any]) -> IngressRule | None:
    """One ``DescribeSecurityGroupRules`` item (ingress or egress; the caller filters)."""
    return _rule_from_item(item, _PASCAL)
