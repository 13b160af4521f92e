"""template.yaml for cloudtrail-tamper, the backstop, app-tamper and CreateTrail: the rules
route every sample as intended (patterns resolved offline, EventBridge semantics), the
backstop watches every rule of the stack, app-tamper lists every state machine, and the
optional trail is what the README promises."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from tests.conftest import REPO, load_event, load_index
from trailwarden_local.engine.resolver import prepare
from trailwarden_local.patterns import compile_pattern

ACCOUNT = "123456789012"
STACK = "trailwarden"
SUFFIX = "9S8T7U6V5W4X"  # the generated-name suffix the app-tamper samples use
SM_PREFIX = f"arn:aws:states:us-east-1:{ACCOUNT}:stateMachine:"
TOPIC = f"arn:aws:sns:us-east-1:{ACCOUNT}:trailwarden-AlertTopic-Y1Z2A3B4C5D6"


class _Names:
    """Deployed names as CloudFormation would generate them (the samples use these)."""

    def __init__(self, resources: dict[str, Any]) -> None:
        self.resources = resources

    def has_resource(self, logical_id: str) -> bool:
        return logical_id in self.resources

    def _type(self, logical_id: str) -> str:
        return str(self.resources[logical_id]["Type"])

    def ref(self, logical_id: str) -> Any:
        kind = self._type(logical_id)
        if kind == "AWS::StepFunctions::StateMachine":
            return f"arn:aws:states:us-east-1:{ACCOUNT}:stateMachine:{logical_id}-{SUFFIX}"
        if kind == "AWS::SNS::Topic":
            return TOPIC
        return f"{STACK}-{logical_id}-{SUFFIX}"

    def get_att(self, logical_id: str, attribute: str) -> Any:
        kind = self._type(logical_id)
        if kind == "AWS::IAM::Role":
            return f"arn:aws:iam::{ACCOUNT}:role/{STACK}-{logical_id}-EXAMPLE"
        if attribute == "Name":
            return f"{logical_id}-{SUFFIX}"
        if attribute == "TopicName":
            return TOPIC.rsplit(":", 1)[1]
        return f"arn:aws:{kind.split('::')[1].lower()}:us-east-1:{ACCOUNT}:{logical_id}"


class Stack:
    def __init__(self, overrides: dict[str, str] | None = None) -> None:
        prepared = prepare(
            REPO / "template.yaml",
            {**load_index()["parameters"], **(overrides or {})},
            account_id=ACCOUNT,
            stack_name=STACK,
        )
        self.template = prepared.translated
        self.resources: dict[str, Any] = self.template["Resources"]
        self.resolver = prepared.resolver(_Names(self.resources))

    def of_type(self, kind: str) -> dict[str, Any]:
        return {lid: body for lid, body in self.resources.items() if body["Type"] == kind}

    def props(self, logical_id: str) -> dict[str, Any]:
        resolved = self.resolver.resolve(self.resources[logical_id]["Properties"], logical_id)
        assert isinstance(resolved, dict)
        return resolved

    def env(self, function: str) -> dict[str, str]:
        return dict(self.props(function)["Environment"]["Variables"])

    def matching_rules(self, event: dict[str, Any]) -> list[str]:
        return [
            lid
            for lid, body in self.of_type("AWS::Events::Rule").items()
            if "EventPattern" in body["Properties"]
            and compile_pattern(self.props(lid)["EventPattern"])(event)
        ]


@pytest.fixture(scope="module")
def stack() -> Stack:
    return Stack()


OWN_ROLE = f"arn:aws:iam::{ACCOUNT}:role/{STACK}-CloudTrailTamperRemediateFunctionRole-EXAMPLE"
TAMPER_RULE = "CloudTrailTamperStateMachineTrailTampered"
FAILED_RULE = "CloudTrailTamperAlertFunctionFailedTamperAttempt"
APP_RULE = "AppTamperAlertFunctionAppRulesChanged"
APP_STATES_RULE = "AppTamperAlertFunctionAppStateMachinesChanged"
APP_FUNCTIONS_RULE = "AppTamperAlertFunctionAppFunctionsChanged"
APP_TOPIC_RULE = "AppTamperAlertFunctionAppTopicOrScheduleChanged"


@pytest.mark.parametrize(
    ("sample", "rules"),
    [
        ("cloudtrail-tamper/stop-logging-by-name.json", [TAMPER_RULE]),
        ("cloudtrail-tamper/stop-logging-by-arn.json", [TAMPER_RULE]),
        ("cloudtrail-tamper/delete-trail.json", [TAMPER_RULE]),
        ("cloudtrail-tamper/update-trail-weakening.json", [TAMPER_RULE]),
        ("cloudtrail-tamper/put-event-selectors-advanced-no-management.json", [TAMPER_RULE]),
        ("cloudtrail-tamper/stop-logging-failed.json", [FAILED_RULE]),
        ("cloudtrail-tamper/start-logging.json", []),
        ("cloudtrail-tamper/backstop-trail-not-logging.json", []),
        ("app-tamper/disable-rule.json", [APP_RULE]),
        ("app-tamper/remove-targets.json", [APP_RULE]),
        ("app-tamper/delete-function.json", [APP_FUNCTIONS_RULE]),
        ("app-tamper/update-function-code-cloudformation.json", [APP_FUNCTIONS_RULE]),
        ("app-tamper/stop-execution.json", [APP_STATES_RULE]),
        ("app-tamper/unsubscribe.json", [APP_TOPIC_RULE]),
        ("app-tamper/backstop-rule-disabled.json", []),
    ],
)
def test_sample_is_routed_by_the_templates_rules(
    stack: Stack, sample: str, rules: list[str]
) -> None:
    event = load_event(sample)
    if sample.endswith("stop-execution.json"):  # the samples' generated names
        arn = event["detail"]["requestParameters"]["executionArn"]
        assert f"CloudTrailTamperStateMachine-{SUFFIX}" in arn

    assert stack.matching_rules(event) == rules


def test_own_remediation_role_never_triggers_the_tamper_rules(stack: Stack) -> None:
    event = load_event("cloudtrail-tamper/stop-logging-own-role.json")
    event["detail"]["userIdentity"]["sessionContext"]["sessionIssuer"]["arn"] = OWN_ROLE

    assert stack.matching_rules(event) == []


@pytest.mark.parametrize(
    "identity",
    [
        {"type": "Root", "arn": f"arn:aws:iam::{ACCOUNT}:root", "accountId": ACCOUNT},
        {"type": "IAMUser", "arn": f"arn:aws:iam::{ACCOUNT}:user/alice"},
        {
            "type": "AssumedRole",
            "sessionContext": {"sessionIssuer": {"arn": OWN_ROLE + "-lookalike"}},
        },
        {"type": "AWSService", "invokedBy": "cloudtrail.amazonaws.com"},
    ],
    ids=["root", "iam-user", "lookalike-role", "aws-service"],
)
def test_every_other_caller_still_matches(stack: Stack, identity: dict[str, Any]) -> None:
    for sample, rule in (
        ("cloudtrail-tamper/stop-logging-by-name.json", TAMPER_RULE),
        ("app-tamper/disable-rule.json", APP_RULE),
    ):
        event = copy.deepcopy(load_event(sample))
        event["detail"]["userIdentity"] = identity

        assert stack.matching_rules(event) == [rule], (sample, identity)


@pytest.mark.parametrize(
    "role",
    [
        "AmiExposureRemediateFunctionRole",
        "CloudTrailTamperRemediateFunctionRole",
        "TrailBackstopFunctionRole",
    ],
)
def test_the_apps_own_roles_do_not_trigger_app_tamper(stack: Stack, role: str) -> None:
    event = load_event("app-tamper/disable-rule.json")
    arn = f"arn:aws:iam::{ACCOUNT}:role/{STACK}-{role}-EXAMPLE"
    event["detail"]["userIdentity"]["sessionContext"]["sessionIssuer"]["arn"] = arn

    assert stack.matching_rules(event) == []


@pytest.mark.parametrize(
    ("source", "name", "request_parameters", "matched"),
    [
        ("events.amazonaws.com", "DisableRule", {"name": "other-stack-rule"}, False),
        ("events.amazonaws.com", "EnableRule", {"name": f"{STACK}-x"}, False),
        (
            "lambda.amazonaws.com",
            "UpdateFunctionConfiguration20150331v2",
            {"functionName": f"{STACK}-F-1"},
            True,
        ),
        (
            "lambda.amazonaws.com",
            "PutFunctionConcurrency20171031",
            {"functionName": f"{STACK}-F-1"},
            True,
        ),
        ("lambda.amazonaws.com", "DeleteFunction", {"functionName": f"{STACK}-F-1"}, True),
        (
            "lambda.amazonaws.com",
            "DeleteFunctionUrlConfig20211031",
            {"functionName": f"{STACK}-F-1"},
            False,
        ),
        ("lambda.amazonaws.com", "DeleteFunction20150331", {"functionName": "payments"}, False),
        (
            "states.amazonaws.com",
            "UpdateStateMachine",
            {"stateMachineArn": f"{SM_PREFIX}AmiExposureStateMachine-{SUFFIX}:7"},
            True,
        ),
        (
            "states.amazonaws.com",
            "DeleteStateMachine",
            {"stateMachineArn": f"{SM_PREFIX}Other"},
            False,
        ),
        ("sns.amazonaws.com", "DeleteTopic", {"topicArn": TOPIC}, True),
        ("sns.amazonaws.com", "DeleteTopic", {"topicArn": TOPIC + "2"}, False),
        ("scheduler.amazonaws.com", "DeleteSchedule", {"name": f"{STACK}-TrailBackstop"}, True),
    ],
)
def test_app_tamper_rule_selects_the_apps_resources(
    stack: Stack, source: str, name: str, request_parameters: dict[str, Any], matched: bool
) -> None:
    event = copy.deepcopy(load_event("app-tamper/disable-rule.json"))
    event["source"] = "aws." + source.split(".", 1)[0]
    event["detail"].update(eventSource=source, eventName=name, requestParameters=request_parameters)

    matching = stack.matching_rules(event)

    assert (len(matching) == 1 and matching[0].startswith("AppTamperAlertFunctionApp")) is matched


def test_a_forged_event_from_a_custom_source_never_matches_app_tamper(stack: Stack) -> None:
    event = copy.deepcopy(load_event("app-tamper/disable-rule.json"))
    event["source"] = "attacker.custom"

    assert stack.matching_rules(event) == []


# ------------------------------------------------------------------ completeness


def test_backstop_watches_every_rule_of_the_stack(stack: Stack) -> None:
    rules = {
        stack.props(lid).get("Name", f"{STACK}-{lid}-{SUFFIX}")
        for lid, body in stack.of_type("AWS::Events::Rule").items()
        if "EventPattern" in body["Properties"]
    }

    listed = set(stack.env("TrailBackstopFunction")["APP_RULE_NAMES"].split(","))

    assert listed == rules


def test_app_tamper_lists_every_state_machine_of_the_stack(stack: Stack) -> None:
    # Not the organisation backstop's (organisation mode only, named "<stack>-OrgBackstop":
    # APP_RESOURCE_NAMES covers it by the stack prefix; the state-machine rule does not yet).
    machines = {
        stack.resolver.resolve({"Ref": lid}, lid)
        for lid in stack.of_type("AWS::StepFunctions::StateMachine")
        if lid != "OrgBackstopStateMachine"
    }
    names = set(stack.env("AppTamperAlertFunction")["APP_RESOURCE_NAMES"].split(","))
    # One rule, or several when the ARNs would outgrow EventBridge's pattern quota.
    rules = [lid for lid in stack.of_type("AWS::Events::Rule") if lid.startswith(APP_STATES_RULE)]
    patterns = [json.dumps(stack.props(lid)["EventPattern"]) for lid in rules]
    pattern = "\n".join(patterns)

    assert machines <= names
    assert all(len(p) <= 2048 for p in patterns)
    for arn in machines:
        assert sum(arn in p for p in patterns) == 1
        name = arn.rsplit(":", 1)[1]
        assert f":execution:{name}:" in pattern


def test_app_tamper_excludes_exactly_the_apps_remediation_and_backstop_roles(stack: Stack) -> None:
    roles = {
        f"arn:aws:iam::{ACCOUNT}:role/{STACK}-{lid}Role-EXAMPLE"
        for lid, body in stack.of_type("AWS::Lambda::Function").items()
        if body["Properties"]["Handler"]
        in ("handlers.remediate.handler", "handlers.backstop.handler")
    }

    own = set(stack.env("AppTamperAlertFunction")["OWN_ROLE_ARNS"].split(","))

    assert own == roles


def test_schedule_invokes_the_backstop_through_its_own_narrow_role(stack: Stack) -> None:
    schedule = stack.props("TrailBackstopSchedule")
    role = stack.props("TrailBackstopSchedulerRole")
    statements = role["Policies"][0]["PolicyDocument"]["Statement"]

    assert schedule["ScheduleExpression"] == "rate(5 minutes)"
    assert schedule["Target"]["RoleArn"].endswith("TrailBackstopSchedulerRole-EXAMPLE")
    assert "<aws.scheduler.scheduled-time>" in schedule["Target"]["Input"]
    assert "DeadLetterConfig" in schedule["Target"]
    assert {s["Action"] for s in statements} == {"lambda:InvokeFunction", "sqs:SendMessage"}
    trust = role["AssumeRolePolicyDocument"]["Statement"][0]
    assert trust["Principal"] == {"Service": "scheduler.amazonaws.com"}


def test_no_trail_is_created_by_default(stack: Stack) -> None:
    conditional = {
        lid
        for lid, body in stack.resources.items()
        if body["Type"].startswith(("AWS::CloudTrail::", "AWS::S3::"))
    }

    assert conditional
    assert all(
        stack.resources[lid].get("Condition") == "CreateTrailCondition" for lid in conditional
    )
    assert stack.resolver.condition("CreateTrailCondition") is False


def test_created_trail_logs_everything_to_a_protected_bucket() -> None:
    stack = Stack(
        {"CreateTrail": "true", "TrailAdminPrincipalArn": f"arn:aws:iam::{ACCOUNT}:role/deployer"}
    )

    trail = stack.props("Trail")
    bucket = stack.props("TrailBucket")
    policy = stack.props("TrailBucketPolicy")["PolicyDocument"]["Statement"]

    assert stack.resolver.condition("CreateTrailCondition") is True
    assert trail["IsMultiRegionTrail"] is True
    assert trail["EnableLogFileValidation"] is True
    assert trail["IncludeGlobalServiceEvents"] is True
    assert trail["EventSelectors"] == [{"ReadWriteType": "All", "IncludeManagementEvents": True}]
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0][
        "ServerSideEncryptionByDefault"
    ] == {"SSEAlgorithm": "AES256"}
    assert bucket["LoggingConfiguration"]["DestinationBucketName"] == stack.resolver.resolve(
        {"Ref": "TrailAccessLogBucket"}, "x"
    )
    (deny,) = [s for s in policy if s["Sid"] == "DenyLogDestructionExceptAdmins"]
    assert {"s3:DeleteObject", "s3:DeleteBucket", "s3:PutBucketPolicy"} <= set(deny["Action"])
    assert deny["Condition"]["StringNotEquals"]["aws:PrincipalArn"] == [
        f"arn:aws:iam::{ACCOUNT}:root",
        f"arn:aws:iam::{ACCOUNT}:role/deployer",
    ]
