"""waf-protected-ip: a WAF IP set now holds one of the company's own (protected) IPs.

The incident that started the project: someone put the NAT egress IP on a WAF block
list and the service went dark. ``UpdateIPSet`` logs the whole new address list
(``requestParameters.addresses``), the set's ``name``, ``id`` and ``scope`` (REGIONAL, or
CLOUDFRONT, whose calls are made to and logged in us-east-1).

Everything here is pure. The protected set is ``ProtectedIpCidrs`` plus, when Assess
runs with clients, the live Elastic IPs of the account's NAT gateways; whether the set
is used by a blocking rule of a web ACL is live state too. Both arrive in a
:class:`WafContext`; offline (replay) the context is empty: only the configured CIDRs
count and the set is assumed to block, which gives the stronger verdict.

Addresses are compared as networks (``ipaddress``, ``strict=False``), never as strings:
``2001:DB8:0:0::10/128`` is ``2001:db8::10/128``. An entry that equals or lies inside a
protected network is removable (it blocks nothing but protected addresses). A wider
entry that covers a protected IP (a ``/24`` around the NAT's ``/32``) is *carved out*:
replaced by the smallest set of prefixes that covers the same range minus the protected
addresses (``address_exclude``), so the rest of the block keeps blocking. Deleting it
would unblock others; leaving it keeps the service down. The carve-out is refused (a
critical alert that says why) past the limits below.

Large sets: nothing here carries a whole address list into a Finding. Facts hold counts
and the entries that touch a protected network (at most ``MAX_LISTED_ENTRIES`` of them).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from typing import TYPE_CHECKING, Any

from trailwarden.models.findings import Detection, Outcome, Severity
from trailwarden.workflows.common import as_list, text_of
from trailwarden.workflows.waf_protected_ip import DECLARATION

if TYPE_CHECKING:
    from trailwarden.models.events import CloudTrailEvent
    from trailwarden.models.settings import DetectionSettings, IpNetwork

WORKFLOW = DECLARATION.id
EVENT_SOURCE = "wafv2.amazonaws.com"
TRIGGERS = frozenset({(EVENT_SOURCE, "UpdateIPSet")})
RESOURCE_TYPE = "AWS::WAFv2::IPSet"
SCOPES = ("REGIONAL", "CLOUDFRONT")
CLOUDFRONT_REGION = "us-east-1"  # CLOUDFRONT-scope WAF calls are made to us-east-1
CONFIGURED = "ProtectedIpCidrs"

# AWS WAF: "An IP set can hold up to 10,000 IP addresses or IP address ranges" (WAF
# developer guide, IP set match statement; a quota that cannot be raised). A carve-out
# that would push the set past it is refused: UpdateIPSet would fail anyway.
MAX_IP_SET_ADDRESSES = 10_000
# Our limit: the widest entry we split, per IP version. A /16 is an organisation-sized
# IPv4 block (carving one address out of it adds 16 prefixes); a /48 is the IPv6 site
# allocation (80 prefixes per address). Wider entries block whole providers: whoever
# wrote one meant something a machine should not second-guess, so a human decides.
WIDEST_CARVE_OUT_PREFIX = {4: 16, 6: 48}
# Our limit: the prefixes one fix may add. Each one is listed in the plan, the approval
# message and the audit record; past this the carve-out is too fragmented to review.
MAX_CARVE_OUT_PREFIXES = 256
# Entries listed in facts, plans and audit records; counts carry the rest (a state
# machine's state is limited to 256 KB, and a set holds up to 10,000 entries).
MAX_LISTED_ENTRIES = 50

# Rule actions that stop a matching request. Captcha and Challenge count: the NAT's
# callers are machines, which cannot solve either.
_STOPPING_ACTIONS = ("Block", "Captcha", "Challenge")


# ------------------------------------------------------------------ addresses


@dataclass(frozen=True)
class ProtectedNetwork:
    network: IpNetwork
    source: str  # "ProtectedIpCidrs" or "NAT gateway nat-..."

    @cached_property
    def span(self) -> tuple[int, int, int]:
        """(version, first address, last address) as integers (see classify)."""
        return _span_of(self.network)

    @cached_property
    def cidr(self) -> str:
        """network_text(network), kept (hashing an ipaddress network is Python code)."""
        return network_text(self.network)

    def to_dict(self) -> dict[str, str]:
        return {"cidr": self.cidr, "source": self.source}

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> ProtectedNetwork:
        return cls(_cidr(str(raw["cidr"])), text_of(raw.get("source")))


# Networks are immutable values and the same few recur in every event of a set (the
# protected ones, the set's entries): parsing and printing them is memoised.
network_text: Callable[[IpNetwork], str] = lru_cache(maxsize=4096)(str)


@lru_cache(maxsize=1024)
def _cidr(text: str) -> IpNetwork:
    """ipaddress.ip_network(text, strict=False), memoised (ValueError is not)."""
    return ipaddress.ip_network(text, strict=False)


@dataclass(frozen=True)
class Hit:
    """An IP-set entry that touches a protected network."""

    entry: str  # as written in the set
    network: IpNetwork  # normalised
    protected: ProtectedNetwork
    inside: bool  # True: equals / lies inside the protected network (removable)

    def to_dict(self) -> dict[str, str]:
        return {
            "entry": self.entry,
            "network": network_text(self.network),
            "protected": self.protected.cidr,
            "source": self.protected.source,
        }


def parse_network(entry: str) -> IpNetwork | None:
    """``203.0.113.10/32``, ``203.0.113.10``, ``2001:DB8::A/128`` -> a network, else None."""
    return _network(entry.strip())


@lru_cache(maxsize=1024)  # the same entries recur in every update of a set (immutable)
def _network(text: str) -> IpNetwork | None:
    if "%" in text:  # an IPv6 scope (zone) id: WAF refuses it; compared without it below
        return None
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        return None


def configured_networks(settings: DetectionSettings) -> tuple[ProtectedNetwork, ...]:
    cidrs = settings.protected_ip_cidrs
    # By identity first: one settings object decides every event of a run, and hashing
    # its networks (Python-level __hash__) for the lru_cache costs more than the rest.
    known = _CONFIGURED_BY_ID.get(id(cidrs))
    if known is not None and known[0] is cidrs:
        return known[1]
    networks = _configured(cidrs)
    if len(_CONFIGURED_BY_ID) >= 64:
        _CONFIGURED_BY_ID.clear()
    _CONFIGURED_BY_ID[id(cidrs)] = (cidrs, networks)  # keeps cidrs alive: the id stays its
    return networks


_CONFIGURED_BY_ID: dict[int, tuple[tuple[IpNetwork, ...], tuple[ProtectedNetwork, ...]]] = {}


@lru_cache(maxsize=64)
def _configured(cidrs: tuple[IpNetwork, ...]) -> tuple[ProtectedNetwork, ...]:
    return tuple(ProtectedNetwork(n, CONFIGURED) for n in cidrs)


def classify(
    addresses: Iterable[str], protected: Sequence[ProtectedNetwork]
) -> tuple[tuple[Hit, ...], tuple[Hit, ...]]:
    """Split the entries that touch a protected network into (inside, covering).

    An entry inside any protected network is removable; otherwise, one that covers a
    protected network (is wider) is reported. Unparseable entries and near misses
    (``203.0.113.12/32`` next to a protected ``203.0.113.10``) touch nothing.
    """
    inside: list[Hit] = []
    covering: list[Hit] = []
    # subnet_of / supernet_of as integer comparisons of the first and last addresses
    # (what ipaddress compares, through its Python-level address objects)
    spans = [(p, *p.span) for p in protected]
    for entry in addresses:
        parsed = _parsed_entry(entry)
        if parsed is None:
            continue
        network, version, first, last = parsed
        same_family = [(p, low, high) for p, kind, low, high in spans if kind == version]
        holder = next((p for p, low, high in same_family if low <= first and last <= high), None)
        if holder is not None:
            inside.append(Hit(entry, network, holder, inside=True))
            continue
        covered = next((p for p, low, high in same_family if first <= low and high <= last), None)
        if covered is not None:
            covering.append(Hit(entry, network, covered, inside=False))
    return tuple(inside), tuple(covering)


def _span_of(network: IpNetwork) -> tuple[int, int, int]:
    return network.version, int(network.network_address), int(network.broadcast_address)


@lru_cache(maxsize=1024)  # the same entries recur in every update of a set (immutable)
def _parsed_entry(entry: str) -> tuple[IpNetwork, int, int, int] | None:
    """parse_network(entry) and its span (see ProtectedNetwork.span), or None."""
    network = parse_network(entry)
    return None if network is None else (network, *_span_of(network))


def _excluded(network: IpNetwork, protected: Sequence[ProtectedNetwork]) -> list[ProtectedNetwork]:
    """The protected networks strictly inside ``network`` (the ones a carve-out leaves out)."""
    return [
        p
        for p in protected
        if p.network.version == network.version
        and p.network != network
        and p.network.subnet_of(network)  # type: ignore[arg-type]
    ]


def carve(network: IpNetwork, excluded: Iterable[IpNetwork]) -> tuple[IpNetwork, ...]:
    """The smallest set of prefixes covering ``network`` minus every excluded network.

    ``address_exclude`` removes one network; it is repeated for each excluded one (on
    whichever remaining prefix holds it) and the result collapsed, so the answer is the
    same whatever the order. ``203.0.113.0/24`` minus ``203.0.113.10`` is 8 prefixes.
    """
    return _carve(network, tuple(excluded))


@lru_cache(maxsize=1024)  # pure: the same covering entries recur in every update of a set
def _carve(network: IpNetwork, excluded: tuple[IpNetwork, ...]) -> tuple[IpNetwork, ...]:
    remaining: list[IpNetwork] = [network]
    for cut in ipaddress.collapse_addresses(list(excluded)):  # type: ignore[type-var]
        kept: list[IpNetwork] = []
        for prefix in remaining:
            if prefix.version != cut.version or not prefix.overlaps(cut):
                kept.append(prefix)
            elif cut.subnet_of(prefix):  # type: ignore[arg-type]
                kept.extend(prefix.address_exclude(cut))  # type: ignore[arg-type]
            # else the prefix lies inside the cut: dropped
        remaining = kept
    return tuple(ipaddress.collapse_addresses(remaining))  # type: ignore[type-var]


@dataclass(frozen=True)
class CarveOut:
    """A covering entry, the protected networks inside it and what replaces it."""

    entries: tuple[str, ...]  # as written in the set (every spelling of this network)
    network: IpNetwork
    excluded: tuple[ProtectedNetwork, ...]
    prefixes: tuple[IpNetwork, ...]
    refused: str = ""  # why it is left as it is ("" = it is carved out)

    @property
    def entry(self) -> str:
        return self.entries[0]

    def to_dict(self) -> dict[str, Any]:
        raw: dict[str, Any] = {
            "entry": self.entry,
            "network": network_text(self.network),
            "exclude": list(dict.fromkeys(p.cidr for p in self.excluded)),
            "sources": list(dict.fromkeys(p.source for p in self.excluded)),
            "prefixCount": len(self.prefixes),
        }
        if self.refused:
            raw["refused"] = self.refused
        return raw

    def leave_out(self) -> str:
        """``203.0.113.10/32 (NAT gateway nat-1, ProtectedIpCidrs)``: each network once."""
        sources: dict[IpNetwork, list[str]] = {}
        for p in self.excluded:
            sources.setdefault(p.network, [])
            if p.source not in sources[p.network]:
                sources[p.network].append(p.source)
        return ", ".join(f"{network_text(n)} ({', '.join(s)})" for n, s in sources.items())

    def text(self) -> str:
        return f"{self.entry} covers protected {self.leave_out()}"


@dataclass(frozen=True)
class Changes:
    """What fixing a set means: entries to remove, entries to carve, entries refused."""

    remove: tuple[Hit, ...]
    carve: tuple[CarveOut, ...]
    refused: tuple[CarveOut, ...]
    address_count: int  # entries in the set now
    address_count_after: int  # entries once the fix is applied

    @property
    def empty(self) -> bool:
        return not self.remove and not self.carve


def plan_changes(
    addresses: Sequence[str],
    protected: Sequence[ProtectedNetwork],
    *,
    address_count: int | None = None,
    approved: Iterable[IpNetwork] | None = None,
) -> Changes:
    """Decide the fix for an address list (pure).

    ``addresses`` may be only the entries that touch a protected network when
    ``address_count`` gives the size of the whole set. ``approved`` (the covering
    networks of the plan a human approved) limits which entries are carved; None means
    every eligible one (the plan itself). Covering entries are refused when wider than
    ``WIDEST_CARVE_OUT_PREFIX``, when the fix would add more than
    ``MAX_CARVE_OUT_PREFIXES`` or when the set would pass ``MAX_IP_SET_ADDRESSES``.
    """
    inside, covering = classify(addresses, protected)
    count = len(addresses) if address_count is None else address_count
    removed = {h.entry for h in inside}
    after = count - sum(1 for a in addresses if a in removed)
    allowed = None if approved is None else set(approved)
    spellings: dict[IpNetwork, list[str]] = {}
    for hit in covering:
        spellings.setdefault(hit.network, [])
        if hit.entry not in spellings[hit.network]:
            spellings[hit.network].append(hit.entry)
    carved: list[CarveOut] = []
    refused: list[CarveOut] = []
    added = 0
    for network, entries in spellings.items():
        excluded = tuple(_excluded(network, protected))
        widest = WIDEST_CARVE_OUT_PREFIX[network.version]
        occurrences = sum(1 for a in addresses if a in entries)
        if allowed is not None and network not in allowed:
            why = "not part of the plan that was approved"
            refused.append(CarveOut(tuple(entries), network, excluded, (), why))
            continue
        if network.prefixlen < widest:
            why = f"wider than /{widest}, the widest entry trailwarden splits"
            refused.append(CarveOut(tuple(entries), network, excluded, (), why))
            continue
        prefixes = carve(network, (p.network for p in excluded))
        if added + len(prefixes) > MAX_CARVE_OUT_PREFIXES:
            why = (
                f"the fix would add {added + len(prefixes)} prefixes, more than the "
                f"{MAX_CARVE_OUT_PREFIXES} trailwarden adds in one change"
            )
            refused.append(CarveOut(tuple(entries), network, excluded, prefixes, why))
            continue
        size = after - occurrences + len(prefixes)
        if size > MAX_IP_SET_ADDRESSES:
            why = (
                f"the set would hold {size} entries; AWS WAF allows "
                f"{MAX_IP_SET_ADDRESSES:,} per IP set"
            )
            refused.append(CarveOut(tuple(entries), network, excluded, prefixes, why))
            continue
        carved.append(CarveOut(tuple(entries), network, excluded, prefixes))
        added += len(prefixes)
        after = size
    return Changes(inside, tuple(carved), tuple(refused), count, after)


def listed(items: Sequence[Any]) -> list[Any]:
    """At most MAX_LISTED_ENTRIES of a list that travels through the state machine."""
    return list(items[:MAX_LISTED_ENTRIES])


# ------------------------------------------------------------------ web ACL usage


@dataclass(frozen=True)
class WebAclUse:
    """A web ACL whose rules reference the IP set, and whether that blocks its IPs."""

    name: str
    arn: str
    blocking_rules: tuple[str, ...] = ()
    other_rules: tuple[str, ...] = ()

    @property
    def blocks(self) -> bool:
        return bool(self.blocking_rules)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "arn": self.arn,
            "blockingRules": list(self.blocking_rules),
            "otherRules": list(self.other_rules),
        }


# rule group ARN -> that group's rules (raises when they cannot be read)
RuleGroupRules = Callable[[str], Sequence[Mapping[str, Any]]]


def _references(statement: Any, ip_set_arn: str, negated: bool = False) -> list[bool]:
    """Polarity of every reference to the set inside a statement (True = under a NOT).

    A request from an address in the set makes a positive reference true and a negated
    one false. Scope-down statements narrow which requests a rate-based or managed rule
    looks at: a reference there is positive (those requests are the ones it may block).
    """
    if not isinstance(statement, Mapping):
        return []
    found: list[bool] = []
    reference = statement.get("IPSetReferenceStatement")
    if isinstance(reference, Mapping) and reference.get("ARN") == ip_set_arn:
        found.append(negated)
    for key in ("AndStatement", "OrStatement"):
        nested = statement.get(key)
        if isinstance(nested, Mapping):
            for child in as_list(nested.get("Statements")):
                found += _references(child, ip_set_arn, negated)
    inner = statement.get("NotStatement")
    if isinstance(inner, Mapping):
        found += _references(inner.get("Statement"), ip_set_arn, not negated)
    for key in ("RateBasedStatement", "ManagedRuleGroupStatement"):
        nested = statement.get(key)
        if isinstance(nested, Mapping):
            found += _references(nested.get("ScopeDownStatement"), ip_set_arn, negated)
    return found


def _action_name(action: Any) -> str:
    return next(iter(action), "") if isinstance(action, Mapping) and action else ""


def _rule_effect(
    rule: Mapping[str, Any],
    action: str,
    ip_set_arn: str,
    default_action: str,
) -> str | None:
    """How one rule treats addresses in the set: "blocks", "other" or None (unused).

    * Block/Captcha/Challenge with a positive reference: blocks them.
    * Count with a positive reference that adds labels: a later rule may block on the
      label; counted as blocking, to be safe.
    * Allow with a negated reference in a web ACL whose default action is Block: the
      addresses are *not* allowed and fall through to the default: blocks them.
    * Anything else (an Allow list, a Block rule that exempts the set with NOT, Count):
      references the set without blocking it.
    """
    polarities = _references(rule.get("Statement"), ip_set_arn)
    if not polarities:
        return None
    positive, negative = False in polarities, True in polarities
    if action in _STOPPING_ACTIONS and positive:
        return "blocks"
    if action == "Count" and positive and rule.get("RuleLabels"):
        return "blocks"
    if action == "Allow" and negative and default_action == "Block":
        return "blocks"
    return "other"


def web_acl_use(
    web_acl: Mapping[str, Any], ip_set_arn: str, rule_group_rules: RuleGroupRules
) -> WebAclUse | None:
    """How a web ACL (a GetWebACL ``WebACL``) uses the IP set; None if it does not."""
    default_action = _action_name(web_acl.get("DefaultAction"))
    blocking: list[str] = []
    other: list[str] = []
    for rule in as_list(web_acl.get("Rules")):
        if not isinstance(rule, Mapping):
            continue
        name = text_of(rule.get("Name")) or "?"
        override = _action_name(rule.get("OverrideAction"))
        statement = rule.get("Statement")
        group_ref = (
            statement.get("RuleGroupReferenceStatement") if isinstance(statement, Mapping) else None
        )
        if isinstance(group_ref, Mapping):
            effects = _rule_group_effects(
                group_ref, override, ip_set_arn, default_action, rule_group_rules
            )
            blocking += [f"{name} > {r}" for r, e in effects if e == "blocks"]
            other += [f"{name} > {r}" for r, e in effects if e == "other"]
            continue
        # A managed rule group's own rules may block what its scope-down lets in, unless
        # the web ACL overrides the whole group to Count.
        action = _action_name(rule.get("Action")) or ("Count" if override == "Count" else "Block")
        effect = _rule_effect(rule, action, ip_set_arn, default_action)
        if effect == "blocks":
            blocking.append(name)
        elif effect == "other":
            other.append(name)
    if not blocking and not other:
        return None
    return WebAclUse(
        name=text_of(web_acl.get("Name")),
        arn=text_of(web_acl.get("ARN")),
        blocking_rules=tuple(blocking),
        other_rules=tuple(other),
    )


def _rule_group_effects(
    group_ref: Mapping[str, Any],
    override: str,
    ip_set_arn: str,
    default_action: str,
    rule_group_rules: RuleGroupRules,
) -> list[tuple[str, str]]:
    """Effects of a referenced rule group's rules (the web ACL may override them)."""
    overrides = {
        text_of(o.get("Name")): _action_name(o.get("ActionToUse"))
        for o in as_list(group_ref.get("RuleActionOverrides"))
        if isinstance(o, Mapping)
    }
    effects: list[tuple[str, str]] = []
    for rule in rule_group_rules(text_of(group_ref.get("ARN"))):
        name = text_of(rule.get("Name")) or "?"
        action = overrides.get(name) or _action_name(rule.get("Action"))
        if override == "Count":
            action = "Count"
        effect = _rule_effect(rule, action, ip_set_arn, default_action)
        if effect is not None:
            effects.append((name, effect))
    return effects


# ------------------------------------------------------------------ the request


@dataclass(frozen=True)
class IpSetChange:
    name: str
    id: str
    scope: str
    region: str  # where the set's WAF API lives (us-east-1 for CLOUDFRONT)
    arn: str
    addresses: tuple[str, ...] | None  # None: the record has no address list
    description: str


def _partition(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def ip_set_arn(name: str, ip_set_id: str, scope: str, region: str, account: str) -> str:
    kind = "global" if scope == "CLOUDFRONT" else "regional"
    return f"arn:{_partition(region)}:wafv2:{region}:{account}:{kind}/ipset/{name}/{ip_set_id}"


def parse_arn(arn: str) -> tuple[str, str, str, str]:
    """An IP set ARN -> (name, id, scope, region). Raises ValueError for anything else."""
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[2] != "wafv2":
        raise ValueError(f"not a WAFv2 ARN: {arn!r}")
    path = parts[5].split("/")
    if len(path) != 4 or path[1] != "ipset" or path[0] not in ("regional", "global"):
        raise ValueError(f"not an IP set ARN: {arn!r}")
    scope = "CLOUDFRONT" if path[0] == "global" else "REGIONAL"
    return path[2], path[3], scope, parts[3]


_NAME = re.compile(r"[\w-]{1,128}")  # WAFv2 IPSet Name and Id patterns
_ID = re.compile(r"[0-9a-f-]{1,36}")


def parse_change(event: CloudTrailEvent) -> IpSetChange | None:
    request = event.request
    name, ip_set_id = text_of(request.get("name")), text_of(request.get("id"))
    scope = text_of(request.get("scope")).upper()
    if not (_NAME.fullmatch(name) and _ID.fullmatch(ip_set_id) and scope in SCOPES):
        return None  # WAF's own patterns: anything else names no IP set (or breaks its ARN)
    region = CLOUDFRONT_REGION if scope == "CLOUDFRONT" else event.aws_region
    raw = request.get("addresses")
    addresses = (
        tuple(a for a in as_list(raw) if isinstance(a, str)) if isinstance(raw, list) else None
    )
    return IpSetChange(
        name=name,
        id=ip_set_id,
        scope=scope,
        region=region,
        arn=ip_set_arn(name, ip_set_id, scope, region, event.account_id),
        addresses=addresses,
        description=text_of(request.get("description")),
    )


# ------------------------------------------------------------------ evaluation


@dataclass(frozen=True)
class WafContext:
    """Live inputs Assess looked up; the empty context is the offline (replay) view."""

    nat_networks: tuple[ProtectedNetwork, ...] = ()
    nat_lookup_error: str | None = None
    # None: unknown (offline, or the lookup failed) -> assume the set blocks.
    web_acls: tuple[WebAclUse, ...] | None = None
    usage_error: str | None = None
    live_addresses: tuple[str, ...] | None = None  # when the record lacks the list
    notes: tuple[str, ...] = field(default_factory=tuple)


OFFLINE = WafContext()


def _actor_name(event: CloudTrailEvent) -> str:
    arn = event.actor.arn
    return arn.rsplit("/", 1)[-1] if "/" in arn else (arn or event.actor.type or "someone")


def _list(items: Iterable[str]) -> str:
    return ", ".join(items) or "-"


def _some(items: Sequence[str], shown: int = 10) -> str:
    """A readable list of at most ``shown`` items ("..., and 9,990 more")."""
    text = _list(items[:shown])
    return f"{text}, and {len(items) - shown:,} more" if len(items) > shown else text


def _hit_text(hit: Hit) -> str:
    network, protected = network_text(hit.network), hit.protected.cidr
    if hit.network == hit.protected.network:
        return f"{network} ({hit.protected.source})"
    return f"{network} (inside protected {protected}, {hit.protected.source})"


def _change_facts(changes: Changes) -> dict[str, Any]:
    """Counts and the entries that touch a protected network: never the whole list."""
    facts: dict[str, Any] = {
        "addressCount": changes.address_count,
        "inside": listed([h.to_dict() for h in changes.remove]),
        "covering": listed([c.to_dict() for c in (*changes.carve, *changes.refused)]),
    }
    if len(changes.remove) > MAX_LISTED_ENTRIES:
        facts["insideCount"] = len(changes.remove)
    if changes.carve or changes.refused:
        # The covering entries the fix carves: the approved plan names them by network.
        facts["carveOut"] = [c.to_dict() for c in changes.carve]
    if changes.carve:
        facts["addressCountAfter"] = changes.address_count_after
    return facts


def _carve_out_text(changes: Changes) -> str:
    text = ""
    if changes.carve:
        text += ". The fix replaces " + _list(
            f"{c.entry} with the {len(c.prefixes)} prefixes that block the rest of it"
            for c in changes.carve
        )
    if changes.refused:
        text += ". Not carved out automatically, a human must decide: " + _list(
            f"{c.entry} ({c.refused})" for c in changes.refused
        )
    return text


def evaluate(event: CloudTrailEvent, settings: DetectionSettings, context: WafContext) -> Detection:
    change = parse_change(event)
    if change is None:
        return Detection(
            WORKFLOW, Outcome.IGNORE, Severity.INFO, "no IP set name, id and scope in the request"
        )
    addresses = change.addresses if change.addresses is not None else context.live_addresses
    # NAT gateways first: when an address is both, the message names the NAT gateway.
    protected = (*context.nat_networks, *configured_networks(settings))
    facts: dict[str, Any] = {
        "ipSetName": change.name,
        "ipSetId": change.id,
        "ipSetArn": change.arn,
        "scope": change.scope,
        "wafRegion": change.region,
        "protected": [p.to_dict() for p in protected],
    }
    if context.nat_lookup_error:
        facts["natLookupError"] = context.nat_lookup_error

    def result(outcome: Outcome, severity: Severity, reason: str) -> Detection:
        return Detection(WORKFLOW, outcome, severity, reason, RESOURCE_TYPE, change.arn, facts)

    if addresses is None:
        return result(Outcome.IGNORE, Severity.INFO, "the record has no address list")
    # A failed NAT lookup must never hide the incident this workflow exists for: when
    # the NAT IPs could not be read, an address list we cannot clear is a HIGH alert.
    unchecked = (
        f"the NAT gateway IPs could not be read ({context.nat_lookup_error}): check this "
        "IP set change for the company's egress IPs by hand"
    )
    if not protected:
        if context.nat_lookup_error and addresses:
            return result(Outcome.ALERT, Severity.HIGH, unchecked)
        return result(Outcome.IGNORE, Severity.INFO, "no protected IPs configured or found")
    changes = plan_changes(addresses, protected)
    inside = changes.remove
    covering = (*changes.carve, *changes.refused)
    facts.update(_change_facts(changes))
    if not inside and not covering:
        if context.nat_lookup_error and addresses:
            return result(Outcome.ALERT, Severity.HIGH, unchecked)
        return result(Outcome.IGNORE, Severity.INFO, "no protected IP in the new address list")

    blocked = _some(list(dict.fromkeys(_hit_text(h) for h in inside)))
    covered = _some([c.text() for c in covering])
    what = (
        f"{_actor_name(event)} changed WAF IP set {change.name} ({change.scope}, {change.region}): "
    )
    if inside:
        what += f"it now holds protected IP {blocked}"
        if covering:
            what += f"; also {covered}"
    else:
        what += f"{covered}"

    if context.web_acls is None:
        facts["webAclUsage"] = "unknown"
        why = context.usage_error or "offline"
        usage = f"could not check which web ACLs use it ({why}): assuming it blocks"
    else:
        blocking = [u for u in context.web_acls if u.blocks]
        facts["webAclUsage"] = "blocking" if blocking else "not-blocking"
        facts["webAcls"] = [u.to_dict() for u in context.web_acls]
        if not blocking:
            others = _list(u.name for u in context.web_acls)
            usage = (
                "no web ACL blocks with this set"
                + (f" (referenced without blocking by {others})" if context.web_acls else "")
                + ": nothing is blocked now, but it would be if a Block rule used it"
            )
            return result(Outcome.ALERT, Severity.MEDIUM, f"{what}; {usage}")
        usage = "blocking rules of web ACL " + _list(
            f"{u.name} ({_list(u.blocking_rules)})" for u in blocking
        )
        usage = f"used by {usage}"
    if context.nat_lookup_error:
        usage += f"; NAT gateway lookup failed ({context.nat_lookup_error})"
    reason = f"{what}; {usage}{_carve_out_text(changes)}"
    if changes.empty:
        return result(Outcome.ALERT, Severity.CRITICAL, reason)
    return result(Outcome.ACT, Severity.CRITICAL, reason)


def detect(event: CloudTrailEvent, settings: DetectionSettings) -> Detection:
    """The offline view: configured CIDRs only, and the set is assumed to block."""
    return evaluate(event, settings, OFFLINE)
