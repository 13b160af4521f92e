"""What a first deploy relies on, checked offline from template.yaml itself.

Each limit here is computed from the template (parameter bounds, logical ids, the
settings each function is given), never typed in twice: change the template and the
numbers follow.
"""

from __future__ import annotations

import ipaddress
import json
import math
import re
import zoneinfo
from typing import Any

import pytest
from trailwarden_deploy.generate import load_units, watches_only_the_hub

from tests.conftest import REPO, load_index
from trailwarden.models.settings import MODE_PARAMETERS, PARAMETER_ENV, mode_env_var
from trailwarden.workflows.registry import declarations
from trailwarden_local.engine.errors import ParameterError
from trailwarden_local.engine.resolver import (
    Resolver,
    prepare,
    pseudo_parameters,
    resolve_parameters,
)
from trailwarden_local.engine.template import load_template_file

TEMPLATE_PATH = REPO / "template.yaml"
SOURCE = load_template_file(TEMPLATE_PATH)
PARAMETERS: dict[str, Any] = SOURCE["Parameters"]
RESOURCES: dict[str, Any] = SOURCE["Resources"]
PSEUDO = pseudo_parameters("us-east-1", "123456789012", "trailwarden")
# SAM's own expansion: Globals merged into every function, generated roles and rules.
EXPANDED: dict[str, Any] = prepare(TEMPLATE_PATH, {}, stack_name="trailwarden").translated[
    "Resources"
]
FUNCTIONS = {lid: body for lid, body in EXPANDED.items() if body["Type"] == "AWS::Lambda::Function"}

LAMBDA_ENV_LIMIT = 4096  # bytes of keys and values together (Lambda quotas)


def conditions(overrides: dict[str, str]) -> dict[str, bool]:
    """The template's Conditions for these parameter values (defaults for the rest)."""
    declared = resolve_parameters(PARAMETERS, overrides)
    resolver = Resolver(
        parameters=declared,
        pseudo=PSEUDO,
        conditions=SOURCE.get("Conditions", {}),
        resources=None,  # type: ignore[arg-type]  # conditions never look at resources
    )
    return resolver.all_conditions()


def created(overrides: dict[str, str]) -> dict[str, str]:
    """Logical id -> type of every resource created with these parameters."""
    active = conditions(overrides)
    return {
        lid: body["Type"]
        for lid, body in EXPANDED.items()
        if body.get("Condition") is None or active[body["Condition"]]
    }


# ------------------------------------------------------------ first deploy ----


def test_defaults_create_no_config_rule() -> None:
    types = created({})

    assert "AWS::Config::ConfigRule" not in types.values()
    assert "KeyPairRuleFunction" not in types
    assert "Ec2KeyPairAlertFunction" in types  # still listens for a rule of that name


def test_config_rule_is_created_only_on_request_and_never_when_its_mode_is_off() -> None:
    wanted = created({"CreateKeyPairConfigRule": "true"})
    off = created({"CreateKeyPairConfigRule": "true", "Ec2KeyPairMode": "off"})

    assert wanted["KeyPairConfigRule"] == "AWS::Config::ConfigRule"
    assert {"KeyPairRuleFunction", "KeyPairRuleFunctionConfigPermission"} <= set(wanted)
    assert "AWS::Config::ConfigRule" not in off.values()


def test_the_alert_rule_listens_for_the_named_config_rule_either_way() -> None:
    pattern = EXPANDED["Ec2KeyPairAlertFunctionKeyPairRuleNonCompliant"]["Properties"][
        "EventPattern"
    ]

    assert "Condition" not in EXPANDED["Ec2KeyPairAlertFunctionKeyPairRuleNonCompliant"]
    assert pattern["detail"]["configRuleName"] == [{"Ref": "KeyPairConfigRuleName"}]


@pytest.mark.parametrize("template", ["template.yaml", "forwarder/template.yaml"])
def test_no_resource_keeps_deletion_policy_retain(template: str) -> None:
    # Retain also keeps resources when the first create rolls back; conditional
    # resources count too (they are in the template whatever the parameters).
    resources = load_template_file(REPO / template)["Resources"]

    kept = {lid for lid, body in resources.items() if body.get("DeletionPolicy") == "Retain"}

    assert kept == set()


def test_data_outlives_the_stack_but_not_a_failed_first_create() -> None:
    for lid in ("IncidentsTable", "TrailBucket", "TrailAccessLogBucket"):
        assert RESOURCES[lid]["DeletionPolicy"] == "RetainExceptOnCreate", lid
        assert RESOURCES[lid]["UpdateReplacePolicy"] == "Retain", lid


@pytest.mark.parametrize(
    ("overrides", "told"),
    [
        ({}, False),
        ({"NotificationEmail": "sec@example.com"}, True),
        ({"DiscordWebhookSecretName": "tw/discord"}, True),
        ({"SlackWebhookSecretName": "tw/slack"}, True),
        ({"TeamsWebhookSecretName": "tw/teams"}, True),
    ],
)
def test_a_stack_that_tells_nobody_says_so_in_an_output(
    overrides: dict[str, str], told: bool
) -> None:
    output = SOURCE["Outputs"]["NobodyIsNotified"]

    shown = conditions(overrides)[output["Condition"]]

    assert shown is not told
    assert "nobody is told" in output["Value"]


# ------------------------------------------------------- 4 KB environments ----

# Upper bounds of what Ref / GetAtt of a resource returns, by resource type (service
# name limits plus the longest ARN prefix, arn:aws-us-gov:<service>:<region>:<account>:).
_ARN_PREFIX = 64
REF_BOUND = {
    "AWS::SNS::Topic": _ARN_PREFIX + 256,  # topic ARN; names up to 256
    "AWS::DynamoDB::Table": 255,  # table name
    "AWS::StepFunctions::StateMachine": _ARN_PREFIX + len("stateMachine:") + 80,
    "AWS::Events::Rule": 64,  # rule name
    "AWS::ApiGatewayV2::Api": 10,  # API id
    "AWS::SQS::Queue": 8 + 64 + 80,  # queue URL
}
GETATT_BOUND = {
    ("AWS::IAM::Role", "Arn"): _ARN_PREFIX + len("role/") + 64,
    ("AWS::Lambda::Function", "Arn"): _ARN_PREFIX + len("function:") + 64,
}
PSEUDO_BOUND = {
    "AWS::StackName": 128,
    "AWS::Region": 25,
    "AWS::URLSuffix": 25,
    "AWS::Partition": 16,
    "AWS::AccountId": 12,
}


def parameter_bound(name: str) -> int:
    spec = PARAMETERS[name]
    if "AllowedValues" in spec:
        return max(len(str(v)) for v in spec["AllowedValues"])
    if spec["Type"] == "Number":
        return max(len(str(spec["MaxValue"])), len(str(spec["MinValue"])))
    assert "MaxLength" in spec, f"parameter {name} reaches an environment without MaxLength"
    return int(spec["MaxLength"])


def ref_bound(name: str) -> int:
    if name in PSEUDO_BOUND:
        return PSEUDO_BOUND[name]
    if name in PARAMETERS:
        return parameter_bound(name)
    return REF_BOUND[EXPANDED[name]["Type"]]


def worst_case(value: Any) -> int:
    """The longest text this environment value can resolve to."""
    if isinstance(value, str):
        return len(value)
    (key, arg), *_ = value.items()
    if key == "Ref":
        return ref_bound(arg)
    if key == "Fn::GetAtt":
        return GETATT_BOUND[EXPANDED[arg[0]]["Type"], arg[1]]
    if key == "Fn::Join":
        delimiter, items = arg
        return len(delimiter) * max(len(items) - 1, 0) + sum(worst_case(i) for i in items)
    if key == "Fn::Sub":
        text = arg if isinstance(arg, str) else arg[0]
        names = re.findall(r"\$\{([^}!]+)\}", text)
        literal = len(re.sub(r"\$\{[^}!]+\}", "", text))
        return literal + sum(
            GETATT_BOUND[EXPANDED[n.split(".")[0]]["Type"], n.split(".")[1]]
            if "." in n
            else ref_bound(n)
            for n in names
        )
    if key == "Fn::If":
        return max(worst_case(arg[1]), worst_case(arg[2]))
    raise AssertionError(f"no worst case for {key}")


def environment(lid: str) -> dict[str, Any]:
    props = FUNCTIONS[lid]["Properties"]
    return dict(props.get("Environment", {}).get("Variables", {}))


@pytest.mark.parametrize("lid", sorted(FUNCTIONS))
def test_worst_case_environment_fits_lambdas_4kb(lid: str) -> None:
    env = environment(lid)

    size = sum(len(key) + worst_case(value) for key, value in env.items())

    assert size < LAMBDA_ENV_LIMIT, (lid, size)


def test_every_string_parameter_that_reaches_an_environment_is_bounded() -> None:
    referenced = {
        name
        for lid in FUNCTIONS
        for name in re.findall(r'"Ref": "([A-Za-z0-9]+)"', json.dumps(environment(lid)))
        if name in PARAMETERS
    }

    for name in referenced:
        spec = PARAMETERS[name]
        assert "MaxLength" in spec or "AllowedValues" in spec or spec["Type"] == "Number", name


def test_globals_carry_no_per_workflow_setting_and_no_dead_letter_queue() -> None:
    globals_fn = SOURCE["Globals"]["Function"]
    variables = set(globals_fn["Environment"]["Variables"])

    assert variables <= {
        "POWERTOOLS_SERVICE_NAME",
        "POWERTOOLS_METRICS_NAMESPACE",
        "POWERTOOLS_LOG_LEVEL",
    }
    assert "DeadLetterQueue" not in globals_fn


# ------------------------------------------ each function: what it reads ----

# Settings (environment variables fed by template Parameters) each kind of function
# reads (handlers/*: the settings objects it builds), and what each workflow's
# detection / remediation reads on top (trailwarden/detections, remediations).
NOTIFY = {"LANGUAGE", "TIME_ZONE"}
# Organisation mode (handlers/_reach.py): how to reach members, which accounts to spare.
ORGANIZATION = {"DEPLOYMENT_MODE", "MEMBER_ROLE_NAME", "MEMBER_EXTERNAL_ID", "EXCLUDED_ACCOUNT_IDS"}
SECURITY_HUB_REACH = ORGANIZATION
READS_BY_KIND = {
    "assess": {"MODE", "APPROVAL_TIMEOUT_SECONDS"} | ORGANIZATION,
    "remediate": ORGANIZATION,
    "alert": {"MODE"} | NOTIFY | ORGANIZATION,
    "backstop": {"MODE"} | NOTIFY,  # its alerts are app-tamper's
    # The Security Hub sink reaches a finding's account through its member role
    # (organisation mode), never an excluded one.
    "notify": NOTIFY | SECURITY_HUB_REACH,
    "report": NOTIFY | SECURITY_HUB_REACH,
    "approval_request": {"APPROVAL_TIMEOUT_SECONDS"} | NOTIFY | SECURITY_HUB_REACH,
    "approval": NOTIFY,
    "keypair_rule": set(),
    # The organisation backstop (organisation mode only): the list spares excluded
    # accounts, the check reaches members.
    "org_backstop_accounts": {"EXCLUDED_ACCOUNT_IDS"},
    "org_backstop": ORGANIZATION - {"EXCLUDED_ACCOUNT_IDS"},
    "discord_interactions": NOTIFY,  # the "you may not decide" answer, in the team's language
    "discord_resume": NOTIFY,  # "Approved by <name> at <time>" in the team's zone
}
# What each workflow's functions read besides their kind's settings: its declaration
# (the workflow tests run every handler with exactly the environment the template gives).
READS_BY_WORKFLOW = {
    (d.id, kind): {PARAMETER_ENV[name] for name in spec.reads}
    for d in declarations()
    for kind, spec in (("assess", d.assess), ("remediate", d.remediate), ("alert", d.alert))
    if spec is not None
}
PARAMETER_FED = set(PARAMETER_ENV.values())
_UNITS = load_units()
HUB_ONLY_WORKFLOWS = {
    u.declaration.id for u in _UNITS if watches_only_the_hub(u.declaration, _UNITS)
}


def kind_and_workflow(lid: str) -> tuple[str, str | None]:
    env = environment(lid)
    kind = FUNCTIONS[lid]["Properties"]["Handler"].split(".")[1]
    workflow = env.get("WORKFLOW") or ("app-tamper" if kind == "backstop" else None)
    return kind, workflow


@pytest.mark.parametrize("lid", sorted(FUNCTIONS))
def test_each_function_gets_exactly_the_settings_it_reads(lid: str) -> None:
    kind, workflow = kind_and_workflow(lid)
    expected = set(READS_BY_KIND[kind]) | READS_BY_WORKFLOW.get((workflow or "", kind), set())
    if workflow in HUB_ONLY_WORKFLOWS:  # never acts in a member: no organisation settings
        expected -= ORGANIZATION
    if "MODE" in expected:
        assert workflow is not None, lid
        expected = (expected - {"MODE"}) | {mode_env_var(workflow)}

    given = {name for name in environment(lid) if name in PARAMETER_FED}

    assert given == expected, lid


@pytest.mark.parametrize("lid", sorted(FUNCTIONS))
def test_a_deciding_function_gets_the_mode_of_its_own_workflow(lid: str) -> None:
    # DetectionSettings falls back to the default Mode when the variable is missing:
    # a deciding function without it would silently ignore the user's choice.
    kind, workflow = kind_and_workflow(lid)
    modes = {name: value for name, value in environment(lid).items() if name.startswith("MODE_")}
    if kind not in ("assess", "alert", "backstop"):
        assert modes == {}, lid
        return
    assert workflow is not None
    assert modes == {mode_env_var(workflow): {"Ref": MODE_PARAMETERS[workflow][0]}}, lid


def test_every_mapped_parameter_reaches_some_function_as_its_variable() -> None:
    given = {
        (name, json.dumps(value)) for lid in FUNCTIONS for name, value in environment(lid).items()
    }

    for parameter, variable in PARAMETER_ENV.items():
        if parameter in PARAMETERS:
            assert (variable, json.dumps({"Ref": parameter})) in given, parameter


# --------------------------------------------------- parameter patterns ----


def accepted(name: str, value: str) -> bool:
    try:
        resolve_parameters(PARAMETERS, {name: value})
    except ParameterError:
        return False
    return True


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("ProtectedIpCidrs", "10.0.0.0/7"),  # wider than /8
        ("ProtectedIpCidrs", "203.0.113.300"),  # octet over 255
        ("ProtectedIpCidrs", "203.0.113.10/33"),
        ("ProtectedIpCidrs", "/33"),
        ("ProtectedIpCidrs", "2001:db8::/31"),  # wider than /32
        ("ProtectedIpCidrs", "2001:db8::/129"),
        ("ProtectedIpCidrs", "::/0"),
        ("ProtectedIpCidrs", "010.0.0.1"),  # leading zero: Python refuses it
        ("ProtectedIpCidrs", "203.0.113.10,,198.51.100.1"),
        ("ApproverCidrs", "0.0.0.0/0"),
        ("ApproverCidrs", "1.2.3"),
        ("AllowedPublicPorts", "99999"),
        ("AllowedPublicPorts", "80,65536"),
        ("TrustedAccountIds", "12345678901"),
        ("TrustedAccountIds", "1234567890123"),
        ("TimeZone", "Seoul"),
        ("TimeZone", "Asia//Seoul"),
        ("TimeZone", "../etc/passwd"),
        ("TimeZone", "Mars/Olympus_Mons"),
        ("TrustedAccountIds", ",".join(["123456789012"] * 151)),  # over MaxLength
    ],
)
def test_known_bad_values_are_refused_by_the_template(name: str, value: str) -> None:
    assert not accepted(name, value)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("ProtectedIpCidrs", "203.0.113.10,198.51.100.0/28,2001:db8:10::a"),
        ("ProtectedIpCidrs", "10.0.0.0/8,255.255.255.255/32,0.0.0.0/8"),
        ("ProtectedIpCidrs", "2001:db8::/32,::1,fe80::1:2:3:4/128,2001:0db8:0:0:0:0:0:1"),
        ("ApproverCidrs", "198.51.100.0/24,2001:db8:1::/48"),
        ("AllowedPublicPorts", "0,80,443,65535"),
        ("TrustedAccountIds", ",".join(["123456789012"] * 150)),
        ("TimeZone", "Asia/Seoul"),
        ("TimeZone", "UTC"),
        ("TimeZone", "Etc/GMT+9"),
        ("TimeZone", "America/Argentina/ComodRivadavia"),
        ("TimeZone", "America/Port-au-Prince"),
    ],
)
def test_good_values_pass_the_template(name: str, value: str) -> None:
    assert accepted(name, value)


def test_sample_and_demo_parameters_pass_the_template() -> None:
    resolve_parameters(PARAMETERS, load_index()["parameters"])


_AREAS: tuple[str, ...] = (
    "Africa/",
    "America/",
    "Antarctica/",
    "Arctic/",
    "Asia/",
    "Atlantic/",
    "Australia/",
    "Europe/",
    "Indian/",
    "Pacific/",
    "Etc/",
)


def test_every_time_zone_of_the_iana_areas_passes_the_template() -> None:
    zones = sorted(z for z in zoneinfo.available_timezones() if z.startswith(_AREAS))
    assert zones  # tzdata is installed

    refused = [z for z in zones if not accepted("TimeZone", z)]

    assert refused == []


# Prefix bounds the code documents (DESIGN §2): /8 for IPv4, /32 for IPv6.
_MIN_PREFIX = {4: 8, 6: 32}
_CANDIDATES = [
    "1.2.3.4",
    "1.2.3.4/7",
    "1.2.3.4/8",
    "256.1.1.1",
    "1.2.3.4/32",
    "1.2.3.4/33",
    "1.2.3.04",
    "::",
    "::/31",
    "::/32",
    "1::/128",
    "1::/129",
    "1:2:3:4:5:6:7:8",
    "1:2:3:4:5:6:7:8:9",
    "1::2::3",
    "12345::",
    "::ffff:1.2.3.4",
    "fe80::1%eth0",
    "2001:db8::/64",
]


@pytest.mark.parametrize("value", _CANDIDATES)
@pytest.mark.parametrize("name", ["ProtectedIpCidrs", "ApproverCidrs"])
def test_a_cidr_the_pattern_accepts_is_one_the_code_accepts(name: str, value: str) -> None:
    if not accepted(name, value):
        return
    network = ipaddress.ip_network(value, strict=False)  # raises for what Python refuses
    assert network.prefixlen >= _MIN_PREFIX[network.version]


# ---------------------------------------------------------- stack names ----

# CloudFormation names a resource without an explicit name
# "<stack name>-<logical id>-<random tail>": 13 characters of the limit go to the tail
# and its hyphen, one more to the middle hyphen, and the rest is split fairly between
# the stack name and the logical id (the stack name rounding up; each part takes what
# the other leaves): aws-cloudformation/cloudformation-cli-java-plugin IdentifierUtils,
# matching real names such as convox/rack#2297 and KensioSoftware/yulin#1113.
_TAIL = 13
# Generated names matched by a "<StackName>-" prefix (DLQ policy, the backstop's
# events:DescribeRule grant, app-tamper rules), with their services' name limit.
PREFIX_MATCHED = {"AWS::Events::Rule": 64, "AWS::Lambda::Function": 64}
NAME_PROPERTY = {"AWS::Events::Rule": "Name", "AWS::Lambda::Function": "FunctionName"}
# Explicit names built from the stack name, and their services' limit.
EXPLICIT_NAME_LIMIT = {
    ("AWS::Scheduler::Schedule", "Name"): 64,
    ("AWS::Scheduler::ScheduleGroup", "Name"): 64,
    ("AWS::CloudTrail::Trail", "TrailName"): 128,
    ("AWS::Events::EventBus", "Name"): 256,
    ("AWS::Serverless::StateMachine", "Name"): 80,
}


def longest_intact_stack_name(logical_id: str, limit: int) -> int:
    free = limit - _TAIL - 1
    return max(math.ceil(free / 2), free - len(logical_id))


def stack_name_limit() -> int:
    return min(
        longest_intact_stack_name(lid, PREFIX_MATCHED[body["Type"]])
        for lid, body in EXPANDED.items()
        if body["Type"] in PREFIX_MATCHED
        and NAME_PROPERTY[body["Type"]] not in body.get("Properties", {})
    )


def stack_named(body: dict[str, Any]) -> dict[str, str]:
    """Explicit name properties of the form !Sub "${AWS::StackName}<suffix>"."""
    found = {}
    for prop, value in body.get("Properties", {}).items():
        if isinstance(value, dict) and isinstance(value.get("Fn::Sub"), str):
            text = value["Fn::Sub"]
            if text.startswith("${AWS::StackName}"):
                found[prop] = text.removeprefix("${AWS::StackName}")
    return found


def test_the_stack_name_guard_refuses_exactly_the_names_that_would_be_cut() -> None:
    limit = stack_name_limit()
    guard = RESOURCES["StackNameGuard"]
    suffix = stack_named(guard)["Name"]

    assert guard["Type"] == "AWS::Scheduler::ScheduleGroup"
    assert "Condition" not in guard
    assert EXPLICIT_NAME_LIMIT[guard["Type"], "Name"] - len(suffix) == limit
    assert re.fullmatch(r"[0-9a-zA-Z._-]+", suffix)


def test_every_explicit_name_built_from_the_stack_name_fits_within_the_limit() -> None:
    limit = stack_name_limit()

    for lid, body in RESOURCES.items():
        for prop, suffix in stack_named(body).items():
            assert limit + len(suffix) <= EXPLICIT_NAME_LIMIT[body["Type"], prop], lid


def test_readme_documents_the_stack_name_limit_that_holds() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")

    assert f"{stack_name_limit()} characters" in readme
    assert "50 characters" not in readme


# ------------------------------------------------------ KMS, DLQ grants ----


def statements(lid: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "Effect" in node and "Action" in node:
                found.append(node)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(RESOURCES[lid]["Properties"].get("Policies", []))
    return found


SAM_FUNCTIONS = sorted(
    lid for lid, body in RESOURCES.items() if body["Type"] == "AWS::Serverless::Function"
)


@pytest.mark.parametrize("lid", SAM_FUNCTIONS)
def test_kms_decrypt_only_through_secrets_manager_and_only_where_the_secret_is_read(
    lid: str,
) -> None:
    secrets = {
        "DISCORD_WEBHOOK_SECRET_NAME": "DiscordWebhookSecretName",
        "DISCORD_APPLICATION_SECRET_NAME": "DiscordApplicationSecretName",
        "SLACK_WEBHOOK_SECRET_NAME": "SlackWebhookSecretName",
        "TEAMS_WEBHOOK_SECRET_NAME": "TeamsWebhookSecretName",
    }
    read = {param for var, param in secrets.items() if var in environment(lid)}
    reads_secret = bool(read)
    decrypts = [s for s in statements(lid) if "kms:Decrypt" in json.dumps(s["Action"])]

    assert bool(decrypts) is reads_secret, lid
    for statement in decrypts:
        assert statement["Action"] == "kms:Decrypt"
        condition = statement["Condition"]
        via = condition["StringEquals"]["kms:ViaService"]
        assert via == {"Fn::Sub": "secretsmanager.${AWS::Region}.${AWS::URLSuffix}"}
        secret = condition["StringLike"]["kms:EncryptionContext:SecretARN"]
        assert any(f"secret:${{{param}}}-??????" in secret["Fn::Sub"] for param in read)
    assert len(decrypts) == len(read), lid  # one scoped grant per secret it reads


WEBHOOK_SECRETS = {  # env var -> (parameter, the condition of its read grant)
    "DISCORD_WEBHOOK_SECRET_NAME": ("DiscordWebhookSecretName", "HasDiscord"),
    "SLACK_WEBHOOK_SECRET_NAME": ("SlackWebhookSecretName", "HasSlack"),
    "TEAMS_WEBHOOK_SECRET_NAME": ("TeamsWebhookSecretName", "HasTeams"),
}


@pytest.mark.parametrize("lid", SAM_FUNCTIONS)
def test_every_function_that_tells_reads_all_three_webhook_secrets_each_only_when_set(
    lid: str,
) -> None:
    env = environment(lid)
    told = [var for var in WEBHOOK_SECRETS if var in env]
    policies = RESOURCES[lid]["Properties"].get("Policies", [])

    assert told in ([], list(WEBHOOK_SECRETS)), lid  # Discord, Slack and Teams alike
    for var in told[1:]:  # Slack and Teams (Discord's has its own approval-request variant)
        parameter, condition = WEBHOOK_SECRETS[var]
        assert env[var] == {"Ref": parameter}
        (grant,) = [p for p in policies if f"${{{parameter}}}" in json.dumps(p)]
        when, granted, otherwise = grant["Fn::If"]
        assert when == condition
        assert otherwise == {"Ref": "AWS::NoValue"}
        (read,) = [
            st for st in granted["Statement"] if st["Action"] == "secretsmanager:GetSecretValue"
        ]
        assert read["Resource"] == {
            "Fn::Sub": "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}"
            f":secret:${{{parameter}}}-??????"
        }
    if not told:  # a function that tells nobody reads no webhook secret
        assert all(f"${{{p}}}" not in json.dumps(policies) for p, _c in WEBHOOK_SECRETS.values())


@pytest.mark.parametrize("parameter", ["SlackWebhookSecretName", "TeamsWebhookSecretName"])
def test_a_webhook_secret_is_granted_only_when_its_name_is_set(parameter: str) -> None:
    condition = {"SlackWebhookSecretName": "HasSlack", "TeamsWebhookSecretName": "HasTeams"}

    assert conditions({})[condition[parameter]] is False
    assert conditions({parameter: "tw/x"})[condition[parameter]] is True
    assert PARAMETERS[parameter]["Default"] == ""


def asynchronously_invoked() -> set[str]:
    """Functions something invokes asynchronously: rule targets, the schedule, Config, and
    a function another function may invoke (only ever with InvocationType=Event here)."""
    found = {
        lid
        for lid in SAM_FUNCTIONS
        if any(
            e["Type"] == "EventBridgeRule"
            for e in RESOURCES[lid]["Properties"].get("Events", {}).values()
        )
    }
    for body in RESOURCES.values():
        if body["Type"] == "AWS::Scheduler::Schedule":
            target = body["Properties"]["Target"]["Arn"]
            if "Fn::GetAtt" in target:  # a function (a state machine target is a Ref)
                found.add(target["Fn::GetAtt"][0])
        if body["Type"] == "AWS::Config::ConfigRule":
            found.add(body["Properties"]["Source"]["SourceIdentifier"]["Fn::GetAtt"][0])
        for policy in body.get("Properties", {}).get("Policies", []) or []:
            for statement in policy.get("Statement", []) if isinstance(policy, dict) else []:
                if statement.get("Action") == "lambda:InvokeFunction":
                    found.add(statement["Resource"]["Fn::GetAtt"][0])
    return found


def test_dead_letter_queue_grant_only_where_an_invocation_is_asynchronous() -> None:
    with_dlq = {lid for lid in SAM_FUNCTIONS if "DeadLetterQueue" in RESOURCES[lid]["Properties"]}

    assert with_dlq == asynchronously_invoked()
    assert "ApprovalFunction" not in with_dlq  # internet-facing: cannot flood the alarm
    for lid in FUNCTIONS:
        role = EXPANDED.get(f"{lid}Role", {}).get("Properties", {})
        granted = json.dumps(role.get("Policies", []))
        assert ("sqs:SendMessage" in granted) is (lid in with_dlq), lid


def test_the_forwarder_says_so_too_when_it_tells_nobody() -> None:
    forwarder = load_template_file(REPO / "forwarder/template.yaml")
    output = forwarder["Outputs"]["NobodyIsNotified"]

    condition = forwarder["Conditions"][output["Condition"]]

    assert condition == {"Fn::Equals": [{"Ref": "NotificationEmail"}, ""]}
    assert "nobody is told" in output["Value"]


def _alarmed_function_errors(node: Any) -> set[str]:
    """Functions whose Lambda Errors metric a (piece of an) alarm definition watches."""
    found: set[str] = set()
    if isinstance(node, dict):
        metric = node.get("Metric") if isinstance(node.get("Metric"), dict) else node
        if metric.get("MetricName") == "Errors" and metric.get("Namespace") == "AWS/Lambda":
            for dimension in metric.get("Dimensions", []):
                value = dimension.get("Value")
                if dimension.get("Name") == "FunctionName" and isinstance(value, dict):
                    found.add(value.get("Ref", ""))
        for value in node.values():
            found |= _alarmed_function_errors(value)
    elif isinstance(node, list):
        for value in node:
            found |= _alarmed_function_errors(value)
    return found


def test_every_function_has_its_errors_alarmed_under_the_same_condition() -> None:
    alarmed: dict[str, str | None] = {}
    for body in SOURCE["Resources"].values():
        if body["Type"] == "AWS::CloudWatch::Alarm":
            for lid in _alarmed_function_errors(body["Properties"]):
                alarmed.setdefault(lid, body.get("Condition"))
    functions = {
        lid: body.get("Condition")
        for lid, body in SOURCE["Resources"].items()
        if body["Type"] == "AWS::Serverless::Function"
    }

    assert set(functions) <= set(alarmed), set(functions) - set(alarmed)
    for lid, condition in functions.items():
        # An unconditional alarm may not name a conditional function (the deploy would
        # fail when it is not created); a conditional one names it inside an !If or
        # under the function's own condition.
        if condition is not None and alarmed[lid] is not None:
            assert alarmed[lid] == condition, lid
