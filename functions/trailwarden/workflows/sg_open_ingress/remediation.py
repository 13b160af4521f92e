"""sg-open-ingress remediation: revoke exactly the risky rules the call added, by rule id.

Only rules that were part of the risky change are ever candidates, and only while they
are still risky at re-read: a rule id from the event whose rule was since narrowed
(say to an office /32) is left alone, and no other rule of the group is touched.
Revoking never widens access (security groups only allow), and nothing is added.

Rule ids come from the event (the response's ``securityGroupRuleSet``, or the
ModifySecurityGroupRules request). When the event has none, the live rules are
matched exactly on protocol, ports and source (EC2 refuses duplicate rules, so at
most one live rule matches each). "Already gone" — ``InvalidPermission.NotFound`` or
a rule id no longer listed — is success; the result is verified by reading again.

``plan`` is pure and is also the offline dry run (``replay``): without live state it
plans from the event's rule ids and says which rules would be looked up.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from trailwarden.dal.aws_errors import error_code, translate
from trailwarden.models.errors import RemediationFailed, RemediationRefused
from trailwarden.models.findings import PlannedAction
from trailwarden.models.sg_rules import IngressRule, from_api, is_risky
from trailwarden.workflows.base import ClientFactory, RemediationResult
from trailwarden.workflows.declaration import ANY_RESOURCE, Grant, actions_of, sub

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

# What each step calls: template.yaml grants exactly these (make template), and the
# workflow tests compare them with the calls made.
_READ = Grant(("ec2:DescribeSecurityGroupRules",), ANY_RESOURCE, "no resource-level permissions")
ASSESS_GRANTS = (_READ,)
REMEDIATE_GRANTS = (
    _READ,
    Grant(
        ("ec2:RevokeSecurityGroupIngress",),
        (
            sub("arn:${AWS::Partition}:ec2:${AWS::Region}:${AWS::AccountId}:security-group/*"),
            sub("arn:${AWS::Partition}:ec2:${AWS::Region}:${AWS::AccountId}:security-group-rule/*"),
        ),
    ),
)
ASSESS_ACTIONS = actions_of(ASSESS_GRANTS)
REMEDIATE_ACTIONS = actions_of(REMEDIATE_GRANTS)

# The group itself is gone: every rule in it is gone too.
_GROUP_GONE = frozenset({"InvalidGroup.NotFound"})
# Revoke of a rule that is not there (any more).
_RULE_GONE = frozenset(
    {"InvalidPermission.NotFound", "InvalidSecurityGroupRuleId.NotFound", *_GROUP_GONE}
)
_REVOKE_ATTEMPTS = 3


def read_ingress(ec2: Any, group_id: str) -> tuple[IngressRule, ...]:
    """The group's ingress rules now (DescribeSecurityGroupRules, every page).

    A group that no longer exists reads as having no rules.
    """
    from botocore.exceptions import ClientError  # boto only when calling AWS

    rules: list[IngressRule] = []
    kwargs: dict[str, Any] = {"Filters": [{"Name": "group-id", "Values": [group_id]}]}
    while True:
        try:
            page = ec2.describe_security_group_rules(**kwargs)
        except ClientError as err:
            if error_code(err) in _GROUP_GONE:
                return ()
            raise translate(err) from err
        for item in page.get("SecurityGroupRules", []):
            if item.get("IsEgress") or item.get("GroupId", group_id) != group_id:
                continue
            rule = from_api(item)
            if rule is not None and rule.rule_id:
                rules.append(rule)
        token = page.get("NextToken")
        if not token:
            return tuple(rules)
        kwargs["NextToken"] = token


def state_of(group_id: str, rules: Iterable[IngressRule]) -> dict[str, Any]:
    """The group's ingress as JSON (before/after in findings, reports and the audit)."""
    ordered = sorted(rules, key=lambda r: (r.protocol, r.from_port or 0, r.source, r.rule_id))
    return {"groupId": group_id, "ingress": [r.to_dict() for r in ordered]}


def rules_of(state: Mapping[str, Any]) -> tuple[IngressRule, ...]:
    return tuple(IngressRule.from_dict(r) for r in state.get("ingress") or ())


def change_of(facts: Mapping[str, Any]) -> tuple[IngressRule, ...]:
    """The risky rules the event added, from the detection's facts."""
    return tuple(IngressRule.from_dict(r) for r in facts.get("riskyRules") or ())


def select(
    change: Iterable[IngressRule], live: Iterable[IngressRule], allowed: frozenset[int]
) -> tuple[IngressRule, ...]:
    """The live rules to revoke: part of the change, and still risky now."""
    live = tuple(live)
    by_id = {r.rule_id: r for r in live}
    chosen: dict[str, IngressRule] = {}
    for wanted in change:
        if wanted.rule_id:
            candidates: Iterable[IngressRule] = (
                [by_id[wanted.rule_id]] if wanted.rule_id in by_id else []
            )
        else:
            candidates = [r for r in live if r.same_permission(wanted)]
        for rule in candidates:
            if is_risky(rule, allowed):
                chosen[rule.rule_id] = rule
    return tuple(chosen.values())


def plan(
    group_id: str,
    change: Iterable[IngressRule],
    live: Iterable[IngressRule] | None,
    allowed: frozenset[int],
) -> tuple[PlannedAction, ...]:
    """Pure. With live rules: revoke exactly the selected rule ids. Offline (live None):
    the event's rule ids, plus the rules that would be looked up by exact match."""
    change = tuple(r for r in change if is_risky(r, allowed))
    if live is not None:
        targets = select(change, live, allowed)
        lookups: tuple[IngressRule, ...] = ()
    else:
        targets = tuple(r for r in change if r.rule_id)
        lookups = tuple(r for r in change if not r.rule_id)
    actions = []
    if targets:
        actions.append(
            PlannedAction(
                action="ec2:RevokeSecurityGroupIngress",
                resource=group_id,
                description="revoke " + "; ".join(r.label() for r in targets) + f" on {group_id}",
                params={"GroupId": group_id, "SecurityGroupRuleIds": [r.rule_id for r in targets]},
            )
        )
    if lookups:
        actions.append(
            PlannedAction(
                action="ec2:RevokeSecurityGroupIngress",
                resource=group_id,
                description="revoke the rule matching "
                + "; ".join(r.label() for r in lookups)
                + f" on {group_id} (rule id looked up with DescribeSecurityGroupRules)",
                params={"GroupId": group_id, "match": [r.to_dict() for r in lookups]},
            )
        )
    return tuple(actions)


def _revoke(ec2: Any, group_id: str, rule_ids: list[str]) -> bool:
    """True when revoked; False when EC2 says (some of) them are not there any more."""
    from botocore.exceptions import ClientError  # boto only when calling AWS

    try:
        ec2.revoke_security_group_ingress(GroupId=group_id, SecurityGroupRuleIds=rule_ids)
    except ClientError as err:
        if error_code(err) in _RULE_GONE:
            return False
        raise translate(err) from err
    return True


def apply(
    ec2: Any, group_id: str, change: Iterable[IngressRule], allowed: frozenset[int]
) -> RemediationResult:
    """Idempotent: re-read, revoke what of the change is still risky, verify."""
    change = tuple(change)
    before = read_ingress(ec2, group_id)
    targets = select(change, before, allowed)
    if not targets:
        state = state_of(group_id, before)
        return RemediationResult("already-clean", state, state)
    wanted = {r.rule_id for r in targets}
    notes: list[str] = []
    revoked: tuple[IngressRule, ...] = ()
    present = targets
    for _attempt in range(_REVOKE_ATTEMPTS):
        if _revoke(ec2, group_id, [r.rule_id for r in present]):
            revoked = present
            break
        # One of them vanished between the read and the revoke (EC2 then revokes none
        # of the batch): read again and revoke what of the change is still there.
        notes.append("some rules were already gone at revoke time")
        present = select(change, read_ingress(ec2, group_id), allowed)
        if not present:
            break
    after = read_ingress(ec2, group_id)
    left = wanted & {r.rule_id for r in after}
    if left:
        raise RemediationFailed(f"{group_id}: rules {sorted(left)} still present after revoke")
    untouched = {r.rule_id for r in before} - wanted
    vanished = untouched - {r.rule_id for r in after}
    if vanished:  # not ours: someone else changed the group meanwhile
        notes.append(f"rules {sorted(vanished)} were removed by someone else meanwhile")
    return RemediationResult(
        "remediated" if revoked else "already-clean",
        state_of(group_id, before),
        state_of(group_id, after),
        plan(group_id, revoked, revoked, allowed),
        tuple(dict.fromkeys(notes)),
    )


# --- the generic surface the registry uses -------------------------------------------


def live_state(resource_id: str, region: str, clients: ClientFactory) -> dict[str, Any]:
    return state_of(resource_id, read_ingress(clients("ec2", region), resource_id))


def plan_for(
    resource_id: str,
    facts: Mapping[str, Any],
    state: Mapping[str, Any] | None,
    allowed: frozenset[int],
) -> tuple[PlannedAction, ...]:
    """Plan from the live state, or (offline, for replay) from the event alone."""
    live = rules_of(state) if state is not None else None
    return plan(resource_id, change_of(facts), live, allowed)


def remediate(
    resource_id: str,
    facts: Mapping[str, Any],
    region: str,
    clients: ClientFactory,
    allowed: frozenset[int],
    exempt: frozenset[str],
) -> RemediationResult:
    if resource_id in exempt:
        raise RemediationRefused(f"{resource_id} is in ExemptSecurityGroupIds")
    return apply(clients("ec2", region), resource_id, change_of(facts), allowed)
