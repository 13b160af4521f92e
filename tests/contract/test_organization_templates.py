"""Organisation mode, deploy side, asserted as data: the hub template in both modes and
the generated member templates (member/roles.yaml, member/forwarders.yaml).

Policies are evaluated by the small evaluator below (StringEquals, StringLike, ArnLike;
anything else fails the test), since neither moto nor the local engine evaluates trust
or bus policies.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from trailwarden_deploy import generate

from tests.conftest import REPO
from trailwarden.notify.securityhub import SECURITY_HUB_ACTIONS
from trailwarden.workflows.declaration import actions_of
from trailwarden_local.engine.resolver import NO_VALUE, Resolver, prepare
from trailwarden_local.engine.template import load_template_file
from trailwarden_local.patterns import matches

STACK = "guard"  # not a prefix of the member role name
HUB = "111122223333"
HUB_REGION = "eu-west-1"
MEMBER = "444455556666"
OUTSIDER = "777788889999"
ORG = "o-abcdefghij"
EXTERNAL_ID = "trailwarden-ext-0123456789"
MEMBER_ROLE = "trailwarden-member"
ORGANIZATION = {
    "DeploymentMode": "organization",
    "OrganizationId": ORG,
    "MemberExternalId": EXTERNAL_ID,
}
HUB_PATH = REPO / "template.yaml"
HUB_SOURCE = load_template_file(HUB_PATH)


def pseudo(account: str, region: str) -> dict[str, str]:
    return {
        "AWS::AccountId": account,
        "AWS::Region": region,
        "AWS::Partition": "aws",
        "AWS::StackName": STACK,
        "AWS::StackId": f"arn:aws:cloudformation:{region}:{account}:stack/{STACK}/x",
        "AWS::URLSuffix": "amazonaws.com",
    }


class FakeResources:
    """Resource values as CloudFormation gives them: generated names start with the
    stack name; a role's ARN carries its resolved Path."""

    def __init__(self, resources: Mapping[str, Any], account: str, region: str) -> None:
        self.resources = resources
        self.account = account
        self.region = region
        self.resolver: Resolver | None = None

    def has_resource(self, logical_id: str) -> bool:
        return logical_id in self.resources

    def ref(self, logical_id: str) -> str:
        if logical_id == "HubEventBus":
            assert self.resolver is not None
            props = self.resources[logical_id]["Properties"]
            return str(self.resolver.resolve(props["Name"], logical_id))
        return f"{STACK}-{logical_id}"

    def get_att(self, logical_id: str, attribute: str) -> str:
        body = self.resources[logical_id]
        if body["Type"] == "AWS::IAM::Role" and attribute == "Arn":
            assert self.resolver is not None
            path = self.resolver.resolve(body["Properties"].get("Path", "/"), logical_id)
            path = "/" if path is NO_VALUE else path
            name = self.resolver.resolve(
                body["Properties"].get("RoleName", f"{STACK}-{logical_id}"), logical_id
            )
            return f"arn:aws:iam::{self.account}:role{path}{name}"
        if body["Type"] == "AWS::Events::EventBus" and attribute == "Arn":
            return f"arn:aws:events:{self.region}:{self.account}:event-bus/{self.ref(logical_id)}"
        return f"arn:aws:x:{self.region}:{self.account}:{STACK}-{logical_id}"


class Resolved:
    """A template with its intrinsics resolved for given parameters."""

    def __init__(
        self,
        path: Path,
        overrides: Mapping[str, str],
        account: str,
        region: str = HUB_REGION,
    ) -> None:
        prepared = prepare(path, overrides, region=region, account_id=account, stack_name=STACK)
        self.resources: dict[str, Any] = prepared.translated["Resources"]
        lookup = FakeResources(self.resources, account, region)
        self.resolver = prepared.resolver(lookup)
        lookup.resolver = self.resolver
        self.conditions = self.resolver.all_conditions()

    def created(self) -> dict[str, Any]:
        return {
            lid: body
            for lid, body in self.resources.items()
            if body.get("Condition") is None or self.conditions[body["Condition"]]
        }

    def resolve(self, value: Any, where: str = "test") -> Any:
        return self.resolver.resolve(value, where)

    def rules(self) -> dict[str, dict[str, Any]]:
        """Created EventBridge rules: logical id -> resolved properties (targets left out)."""
        return {
            lid: self.resolve({k: v for k, v in body["Properties"].items() if k != "Targets"}, lid)
            for lid, body in self.created().items()
            if body["Type"] == "AWS::Events::Rule"
        }


HUB_ORG = Resolved(HUB_PATH, ORGANIZATION, HUB)
HUB_ACCOUNT_MODE = Resolved(HUB_PATH, {}, HUB)
MEMBER_PARAMETERS = {
    "HubAccountId": HUB,
    "HubRegion": HUB_REGION,
    "HubEventBusName": f"{STACK}-hub",
    "OrganizationId": ORG,
    "MemberExternalId": EXTERNAL_ID,
}
ROLES = Resolved(REPO / "member" / "roles.yaml", MEMBER_PARAMETERS, MEMBER, "us-east-1")
FORWARDERS = Resolved(
    REPO / "member" / "forwarders.yaml",
    {
        k: v
        for k, v in MEMBER_PARAMETERS.items()
        if k in ("HubAccountId", "HubRegion", "HubEventBusName")
    },
    MEMBER,
    "ap-northeast-2",
)


# --- a small IAM policy evaluator -----------------------------------------------------


def _glob(pattern: str, value: str) -> bool:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, re.DOTALL) is not None


def _arn_like(pattern: str, value: str) -> bool:
    """ArnLike: each of the six colon-separated parts is matched on its own."""
    want, have = pattern.split(":", 5), value.split(":", 5)
    return len(want) == len(have) == 6 and all(map(_glob, want, have))


_OPERATORS = {
    "StringEquals": lambda want, have: want == have,
    "StringLike": _glob,
    "ArnLike": _arn_like,
}


def _listed(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]


def conditions_hold(conditions: Mapping[str, Any], context: Mapping[str, str]) -> bool:
    for operator, tests in conditions.items():
        check = _OPERATORS[operator]  # an operator we do not know fails the test
        for key, wanted in tests.items():
            if key not in context:
                return False
            if not any(check(w, context[key]) for w in _listed(wanted)):
                return False
    return True


def allows(
    policy: Mapping[str, Any],
    action: str,
    *,
    principal_arn: str,
    context: Mapping[str, str],
) -> bool:
    """Whether an Allow statement of a resource (or trust) policy lets this principal
    perform ``action`` with this request context (no Deny statements are used)."""
    account = principal_arn.split(":")[4]
    for statement in _listed(policy.get("Statement", policy)):
        assert statement["Effect"] == "Allow"
        if action not in _listed(statement["Action"]):
            continue
        principal = statement["Principal"]
        if principal != "*":
            named = _listed(principal["AWS"])
            if f"arn:aws:iam::{account}:root" not in named and principal_arn not in named:
                continue
        if conditions_hold(
            statement.get("Condition", {}), {**context, "aws:PrincipalArn": principal_arn}
        ):
            return True
    return False


# --- the hub ----------------------------------------------------------------------------


def _hub_role_arns(resolved: Resolved) -> dict[str, str]:
    return {
        lid: resolved.resolve({"Fn::GetAtt": [lid, "Arn"]})
        for lid, body in resolved.created().items()
        if body["Type"] == "AWS::IAM::Role" and lid.endswith("FunctionRole")
    }


def test_only_accounts_of_the_organisation_can_put_events_on_the_hub_bus() -> None:
    created = HUB_ORG.created()
    bus_arn = HUB_ORG.resolve({"Fn::GetAtt": ["HubEventBus", "Arn"]})
    policies = [
        HUB_ORG.resolve(body["Properties"], lid)
        for lid, body in created.items()
        if body["Type"] == "AWS::Events::EventBusPolicy"
    ]
    assert len(policies) == 1
    policy = policies[0]
    assert policy["EventBusName"] == f"{STACK}-hub"
    statement = policy["Statement"]
    assert statement["Resource"] == bus_arn

    def can_put(principal: str, org: str) -> bool:
        return allows(
            statement,
            "events:PutEvents",
            principal_arn=principal,
            context={"aws:PrincipalOrgID": org},
        )

    assert can_put(f"arn:aws:iam::{MEMBER}:role/{MEMBER_ROLE}", ORG)
    assert not can_put(f"arn:aws:iam::{OUTSIDER}:role/anything", "o-someoneelse0")
    assert not allows(
        statement, "events:PutEvents", principal_arn=f"arn:aws:iam::{OUTSIDER}:root", context={}
    )
    assert statement["Action"] == "events:PutEvents"  # nothing else, to nobody


def test_in_organisation_mode_workflow_rules_live_on_the_hub_bus_and_the_rest_watch_the_hub() -> (
    None
):
    on_bus = {lid: p for lid, p in HUB_ORG.rules().items() if "EventBusName" in p}
    on_default = {lid: p for lid, p in HUB_ORG.rules().items() if "EventBusName" not in p}

    assert on_bus and all(p["EventBusName"] == f"{STACK}-hub" for p in on_bus.values())
    # What stays on the default bus names this stack's own resources: no member event
    # can match it, and no forwarder carries it (so no event arrives twice).
    for lid, properties in on_default.items():
        assert f"{STACK}-" in json.dumps(properties["EventPattern"]), lid
    for lid, properties in on_bus.items():
        assert f"{STACK}-" not in json.dumps(properties["EventPattern"]), lid


def test_the_dead_letter_queue_accepts_rules_on_either_bus() -> None:
    policy = HUB_ORG.resolve(HUB_ORG.created()["EventDeadLetterQueuePolicy"]["Properties"])
    statement = policy["PolicyDocument"]["Statement"][0]
    patterns = _listed(statement["Condition"]["ArnLike"]["aws:SourceArn"])
    prefix = f"arn:aws:events:{HUB_REGION}:{HUB}:rule/"
    for arn in (f"{prefix}{STACK}-SomeRule-ABC123", f"{prefix}{STACK}-hub/{STACK}-SomeRule-ABC123"):
        assert any(_arn_like(p, arn) for p in patterns), arn
    assert not any(_arn_like(p, f"{prefix}other-SomeRule-ABC123") for p in patterns)


def test_in_organisation_mode_every_hub_function_role_is_under_the_hub_path() -> None:
    arns = _hub_role_arns(HUB_ORG)
    assert arns
    for lid, arn in arns.items():
        assert arn.startswith(f"arn:aws:iam::{HUB}:role{generate.HUB_ROLE_PATH}"), lid


def test_account_mode_creates_no_bus_and_keeps_rules_roles_and_exclusions_as_before() -> None:
    created = HUB_ACCOUNT_MODE.created()
    assert not [b for b in created.values() if b["Type"].startswith("AWS::Events::EventBus")]
    for lid, properties in HUB_ACCOUNT_MODE.rules().items():
        assert "EventBusName" not in properties, lid
        issuers = re.findall(r'"sessionIssuer": \{"arn": \[(\{.*?\})\]', json.dumps(properties))
        for issuer in issuers:
            excluded = json.loads(issuer)["anything-but"]
            assert isinstance(excluded, list), lid  # exact role ARNs, no wildcard
            assert all(re.fullmatch(rf"arn:aws:iam::{HUB}:role/{STACK}-\w+", a) for a in excluded)
    for lid, arn in _hub_role_arns(HUB_ACCOUNT_MODE).items():
        assert arn.startswith(f"arn:aws:iam::{HUB}:role/{STACK}-"), lid  # no path


def _stop_logging_by(issuer_arn: str | None, account: str = MEMBER) -> dict[str, Any]:
    identity: dict[str, Any] = {"type": "IAMUser", "arn": f"arn:aws:iam::{account}:user/alice"}
    if issuer_arn:
        identity = {
            "type": "AssumedRole",
            "sessionContext": {"sessionIssuer": {"type": "Role", "arn": issuer_arn}},
        }
    return {
        "source": "aws.cloudtrail",
        "detail-type": "AWS API Call via CloudTrail",
        "account": account,
        "detail": {
            "eventSource": "cloudtrail.amazonaws.com",
            "eventName": "StopLogging",
            "userIdentity": identity,
        },
    }


@pytest.mark.parametrize(
    ("issuer", "matched"),
    [
        (None, True),  # an IAM user (no session issuer at all)
        (f"arn:aws:iam::{MEMBER}:role/admin", True),
        (f"arn:aws:iam::{MEMBER}:role/trailwarden/member/{MEMBER_ROLE}", False),
        (f"arn:aws:iam::{OUTSIDER}:role/trailwarden/member/{MEMBER_ROLE}", False),
        (f"arn:aws:iam::{MEMBER}:role/{MEMBER_ROLE}", True),  # look-alike outside the path
        (f"arn:aws:iam::{MEMBER}:role/trailwarden/member/{MEMBER_ROLE}-x", True),
        (f"arn:aws:iam::{HUB}:role/trailwarden/hub/{STACK}-AnyFunctionRole-X", False),
        (f"arn:aws:iam::{MEMBER}:role/trailwarden/hub/{STACK}-AnyFunctionRole-X", True),
    ],
)
def test_in_organisation_mode_the_member_role_and_hub_roles_are_ignored_in_any_account(
    issuer: str | None, matched: bool
) -> None:
    rules = [
        p["EventPattern"]
        for p in HUB_ORG.rules().values()
        if "StopLogging" in json.dumps(p["EventPattern"]) and "EventBusName" in p
    ]
    assert rules
    assert any(matches(pattern, _stop_logging_by(issuer)) for pattern in rules) is matched


# --- the member templates -------------------------------------------------------------


def test_the_committed_member_templates_are_what_make_template_writes() -> None:
    files = generate.outputs()
    for name in ("roles.yaml", "forwarders.yaml"):
        path = REPO / "member" / name
        assert path.read_text(encoding="utf-8") == files[path], name
        assert "Transform" not in load_template_file(path), name


def _trust() -> Any:
    role = ROLES.created()["MemberRole"]["Properties"]
    return ROLES.resolve(role["AssumeRolePolicyDocument"])


def _may_assume(principal: str, *, org: str = ORG, external_id: str | None = EXTERNAL_ID) -> bool:
    context = {"aws:PrincipalOrgID": org}
    if external_id is not None:
        context["sts:ExternalId"] = external_id
    trust = _trust()
    return allows(trust, "sts:AssumeRole", principal_arn=principal, context=context) and allows(
        trust, "sts:SetSourceIdentity", principal_arn=principal, context=context
    )


def test_the_hub_function_roles_with_the_external_id_may_assume_the_member_role() -> None:
    hub_roles = _hub_role_arns(HUB_ORG)
    assert hub_roles
    for lid, arn in hub_roles.items():
        assert _may_assume(arn), lid


@pytest.mark.parametrize(
    ("principal", "org", "external_id"),
    [
        pytest.param(
            f"arn:aws:iam::{HUB}:role/admin", ORG, EXTERNAL_ID, id="hub-role-outside-path"
        ),
        pytest.param(
            f"arn:aws:iam::{HUB}:role/trailwarden/member/{MEMBER_ROLE}",
            ORG,
            EXTERNAL_ID,
            id="hub-accounts-own-member-role",
        ),
        pytest.param(
            f"arn:aws:iam::{MEMBER}:role/trailwarden/hub/{STACK}-AnyFunctionRole-X",
            ORG,
            EXTERNAL_ID,
            id="another-account-of-the-organisation",
        ),
        pytest.param(
            f"arn:aws:iam::{HUB}:role/trailwarden/hub/{STACK}-AnyFunctionRole-X",
            ORG,
            "wrong-external-id",
            id="wrong-external-id",
        ),
        pytest.param(
            f"arn:aws:iam::{HUB}:role/trailwarden/hub/{STACK}-AnyFunctionRole-X",
            ORG,
            None,
            id="no-external-id",
        ),
        pytest.param(
            f"arn:aws:iam::{HUB}:role/trailwarden/hub/{STACK}-AnyFunctionRole-X",
            "o-someoneelse0",
            EXTERNAL_ID,
            id="hub-account-outside-the-organisation",
        ),
    ],
)
def test_nobody_else_may_assume_the_member_role(
    principal: str, org: str, external_id: str | None
) -> None:
    assert not _may_assume(principal, org=org, external_id=external_id)


def test_the_member_role_may_do_exactly_what_the_workflows_declare_for_member_work() -> None:
    expected: set[str] = set()
    for unit in generate.load_units():
        code = unit.workflow
        expected |= actions_of(code.enrich_grants)
        expected |= actions_of(unit.declaration.member_grants)
        if code.remediation is not None:
            expected |= actions_of(code.remediation.assess_grants)
            expected |= actions_of(code.remediation.remediate_grants)
    expected |= SECURITY_HUB_ACTIONS  # the Security Hub sink writes the member's findings
    role = ROLES.resolve(ROLES.created()["MemberRole"]["Properties"])
    statements = [s for policy in role["Policies"] for s in policy["PolicyDocument"]["Statement"]]
    granted = {action for statement in statements for action in _listed(statement["Action"])}
    assert granted == expected
    assert all(s["Effect"] == "Allow" for s in statements)
    # Only the Security Hub statements carry conditions (the account's own findings).
    conditioned = [set(_listed(s["Action"])) for s in statements if "Condition" in s]
    assert conditioned == [{"securityhub:BatchImportFindings"}, {"securityhub:BatchUpdateFindings"}]
    assert role["Path"] == generate.MEMBER_ROLE_PATH
    assert role["RoleName"] == MEMBER_ROLE


def test_the_forwarder_role_may_only_put_events_on_the_hub_bus() -> None:
    role = ROLES.resolve(ROLES.created()["ForwarderRole"]["Properties"])
    statements = [s for p in role["Policies"] for s in p["PolicyDocument"]["Statement"]]
    hub_bus = HUB_ORG.resolve({"Fn::GetAtt": ["HubEventBus", "Arn"]})
    assert statements == [{"Effect": "Allow", "Action": "events:PutEvents", "Resource": hub_bus}]
    trust = role["AssumeRolePolicyDocument"]["Statement"]
    assert [s["Principal"] for s in trust] == [{"Service": "events.amazonaws.com"}]


def test_every_forwarder_carries_exactly_the_pattern_of_the_hub_rule_it_feeds() -> None:
    hub_rules = {lid: p for lid, p in HUB_ORG.rules().items() if "EventBusName" in p}
    forwarders = FORWARDERS.rules()

    assert set(forwarders) == set(hub_rules)
    for lid, properties in forwarders.items():
        assert properties["EventPattern"] == hub_rules[lid]["EventPattern"], lid


def test_every_forwarder_targets_the_hub_bus_with_the_forwarder_role_retries_and_a_dlq() -> None:
    hub_bus = HUB_ORG.resolve({"Fn::GetAtt": ["HubEventBus", "Arn"]})
    forwarder_role = ROLES.resolve({"Fn::GetAtt": ["ForwarderRole", "Arn"]})
    rules = {
        lid: FORWARDERS.resolve(body["Properties"]["Targets"], lid)
        for lid, body in FORWARDERS.created().items()
        if body["Type"] == "AWS::Events::Rule"
    }
    assert rules
    queue_policy = FORWARDERS.resolve(
        FORWARDERS.created()["ForwardDeadLetterQueuePolicy"]["Properties"]
    )
    dlq_sources = queue_policy["PolicyDocument"]["Statement"][0]["Condition"]["ArnEquals"][
        "aws:SourceArn"
    ]
    for lid, targets in rules.items():
        (target,) = targets
        assert target["Arn"] == hub_bus, lid
        assert target["RoleArn"] == forwarder_role, lid
        assert target["RetryPolicy"]["MaximumRetryAttempts"] > 0, lid
        assert target["DeadLetterConfig"]["Arn"], lid
        assert FORWARDERS.resolve({"Fn::GetAtt": [lid, "Arn"]}) in dlq_sources, lid


def test_the_member_role_name_and_path_match_what_the_hub_rules_ignore() -> None:
    # The exclusion the hub writes names the role roles.yaml creates, path and all.
    role_arn = ROLES.resolve({"Fn::GetAtt": ["MemberRole", "Arn"]})
    assert role_arn == f"arn:aws:iam::{MEMBER}:role/trailwarden/member/{MEMBER_ROLE}"
    rules = [p["EventPattern"] for p in HUB_ORG.rules().values() if "StopLogging" in str(p)]
    assert not any(matches(pattern, _stop_logging_by(role_arn)) for pattern in rules)
    hub_path = HUB_SOURCE["Globals"]["Function"]["RolePath"]
    assert hub_path == {
        "Fn::If": [generate.ORGANIZATION_MODE, generate.HUB_ROLE_PATH, {"Ref": "AWS::NoValue"}]
    }


def test_the_member_generator_names_no_workflow() -> None:
    text = (REPO / "deploy" / "trailwarden_deploy" / "member.py").read_text(encoding="utf-8")
    for unit in generate.load_units():
        d = unit.declaration
        for name in (d.id, d.mode.name, d.logical_prefix):
            assert name not in text, name
