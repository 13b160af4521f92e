"""Property-based robustness: every sample in events/, mutated, through every handler and
through replay.

Each example takes one sample (an EventBridge event or a state input), applies one to
three mutations at paths of the original document (drop a key, null, a value of the
wrong type -- objects and lists where strings belong --, huge, unicode, RTL / zero-width
and Discord / Slack markup strings) and feeds the result to the handler ``run(...)`` of
the function the sample belongs to (moto in-process; SNS and Discord are recording
fakes) and, for EventBridge events, to replay. The properties:

* no unhandled exception except the typed errors the ASL catches by name
  (``trailwarden.models.errors.ERROR_NAMES``);
* no remediation planned from a mutated field of the wrong type: the actions planned
  for the mutated event are all planned for the same event with those fields deleted
  (a value of the wrong type is absent, never read);
* alert text is neutralised: no raw mass mention, user/role/channel token or bidi /
  control character reaches Discord, and it pings nobody; the email subject is one
  printable ASCII line;
* replay answers every record with exactly one JSON line, whatever the record holds.

The budget is fixed (``derandomize=True``: the same examples every run): about 800
handler calls (a free search over all samples plus a share for every sample, so every
function that has a sample in events/ is reached) and 700 examples for each replay
property; about 15 s here. Each failure the search found is pinned with an ``@example``.
"""

from __future__ import annotations

import copy
import dataclasses
import importlib
import json
import os
import re
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from unittest import mock

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from moto import mock_aws

from handlers._notify_deps import NotifyDeps
from tests.conftest import EVENTS, load_index
from trailwarden.dal.clients import make_client
from trailwarden.logic.decide import decide
from trailwarden.models.errors import ERROR_NAMES, InvalidEvent, TrailwardenError
from trailwarden.models.findings import Outcome, Verdict
from trailwarden.workflows.registry import BY_ID
from trailwarden_local.engine import LocalApp
from trailwarden_local.engine.lambda_runtime import base_environment
from trailwarden_local.replay_core import Replayer
from trailwarden_local.replay_inputs import Loaded
from trailwarden_local.replay_rules import load_rules, parse_parameter_overrides
from trailwarden_local.samples import TEMPLATE

if TYPE_CHECKING:
    from collections.abc import Iterator
    from types import ModuleType

    from trailwarden.notify.sinks import Sink

INDEX = load_index()
CLOUDTRAIL = "AWS API Call via CloudTrail"
ACTING = (Verdict.REMEDIATE, Verdict.APPROVAL)
FIRST_FUNCTION_KINDS = ("assess", "alert")
# Examples per property: the whole module stays well under a minute on a loaded machine.
HANDLER_EXAMPLES = 300
PER_SAMPLE_EXAMPLES = 6  # x 84 samples
REPLAY_EXAMPLES = 700
PROFILE = settings(
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=False,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# ---------------------------------------------------------------------------- samples


def _load(file: str) -> Any:
    return json.loads((EVENTS / file).read_text(encoding="utf-8"))


# (file, logical id of the function that takes it first)
EVENT_SAMPLES = [(e["file"], e.get("function")) for e in INDEX["events"]]
STATE_SAMPLES = [(e["file"], e["function"]) for e in INDEX.get("states", [])]
SAMPLES: dict[str, Any] = {file: _load(file) for file, _ in EVENT_SAMPLES + STATE_SAMPLES}
WORKFLOW_OF = {e["file"]: e["workflow"] for e in INDEX["events"]}

# ---------------------------------------------------------------------------- mutations

HUGE = "A" * 20_000
HOSTILE_STRINGS = (
    "",
    " ",
    HUGE,
    "\u202egnp.exe\u202c",  # right-to-left override
    "a\u200b\u200c\u200d\u2060b\ufeff",  # zero-width characters
    "\u2066isolate\u2069\u200f",
    "@everyone",
    "@here hello",
    "<@123456789012345678> <@&987654321098765432> <#111111111111111111>",
    "<!channel> <!here|here> <@U024BE7LH>",
    "[click me](http://evil.example/phish)",
    "**bold** __u__ ~~s~~ `code` ||spoiler|| > quote\n# heading\n-# small",
    "Decision : approved\nApproved by: admin",
    "line1\r\nline2\x00\x07\x1b[31m",
    "../../../etc/passwd",
    "us-east-1\n",
    "\u0441\u0435\u0440\u0432\u0438\u0441 \ud55c\uad6d\uc5b4 \U0001d54f\U0001f525",
    "ami-0123456789abcdef0",
    "0.0.0.0/0",
)
WRONG_TYPES = ("object", "list", "items", "int", "big-int", "float", "true", "false", "empty")


@dataclass(frozen=True)
class Mutation:
    path: tuple[str | int, ...]
    op: str  # drop | null | wrong-type:<kind> | string:<i> | suffix:<i>


def _paths(node: Any, prefix: tuple[str | int, ...] = ()) -> Iterator[tuple[str | int, ...]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield (*prefix, key)
            yield from _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield (*prefix, index)
            yield from _paths(value, (*prefix, index))


def _wrong_type(kind: str, original: Any) -> Any:
    inner = original if isinstance(original, str) else "ami-0123456789abcdef0"
    return {
        "object": {"value": inner, "S": inner},
        "list": [inner],
        "items": {"items": [inner]},
        "int": 7,
        "big-int": 2**70,
        "float": 1.5,
        "true": True,
        "false": False,
        "empty": {} if not isinstance(original, dict) else [],
    }[kind]


_DELETE = object()  # the projection's marker: a wrong-typed value is absent


def _has(node: Any, step: str | int) -> bool:
    if isinstance(node, dict):
        return isinstance(step, str) and step in node
    return isinstance(node, list) and isinstance(step, int) and step < len(node)


def _resolve(doc: Any, path: tuple[str | int, ...]) -> tuple[Any, str | int] | None:
    parent = doc
    for step in path[:-1]:
        if not _has(parent, step):
            return None
        parent = parent[step]
    return (parent, path[-1]) if _has(parent, path[-1]) else None


def _new_value(op: str, old: Any) -> Any:
    if op == "null":
        return None
    kind, _, arg = op.partition(":")
    if kind == "wrong-type":
        return _wrong_type(arg, old)
    if kind == "string":
        return HOSTILE_STRINGS[int(arg)]
    if kind == "suffix":
        return f"{old}{HOSTILE_STRINGS[int(arg)]}"
    raise AssertionError(op)


# Fields CloudTrail logs as numbers or as numeric strings ("ports sometimes as strings",
# protocol "6" or 6): for these a number and a string are the same type.
NUMERIC_FIELDS = frozenset({"ipProtocol", "IpProtocol", "fromPort", "toPort", "FromPort", "ToPort"})


def _is_wrong_typed(old: Any, new: Any, key: str | int) -> bool:
    def numeric(value: Any) -> bool:
        return isinstance(value, str | int) and not isinstance(value, bool)

    if key in NUMERIC_FIELDS and numeric(old) and numeric(new):
        return False
    return new is None or type(old) is not type(new)


def apply(doc: Any, mutations: list[Mutation], *, project: bool = False) -> Any:
    """The mutated document; with ``project``, values whose type differs from the
    original's are deleted instead (a value of the wrong type must read as absent)."""
    out = copy.deepcopy(doc)
    originals: dict[tuple[str | int, ...], Any] = {}
    dropped: set[tuple[str | int, ...]] = set()
    for mutation in mutations:
        found = _resolve(out, mutation.path)
        if found is None or mutation.path in dropped:
            continue
        parent, key = found
        old = originals.setdefault(mutation.path, parent[key])  # type: ignore[index]
        if mutation.op == "drop":
            parent[key] = _DELETE  # type: ignore[index]
            dropped.add(mutation.path)
            continue
        new = _new_value(mutation.op, old)
        wrong = project and _is_wrong_typed(old, new, key)
        parent[key] = _DELETE if wrong else new  # type: ignore[index]
    return _purge(out)


def _purge(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _purge(v) for k, v in node.items() if v is not _DELETE}
    if isinstance(node, list):
        return [_purge(v) for v in node if v is not _DELETE]
    return node


OPS = st.one_of(
    st.sampled_from(["drop", "null"]),
    st.sampled_from([f"wrong-type:{kind}" for kind in WRONG_TYPES]),
    st.sampled_from([f"string:{i}" for i in range(len(HOSTILE_STRINGS))]),
    st.sampled_from([f"suffix:{i}" for i in range(len(HOSTILE_STRINGS))]),
)


@st.composite
def mutated(draw: st.DrawFn, files: list[str]) -> tuple[str, list[Mutation]]:
    file = draw(st.sampled_from(files))
    paths = list(_paths(SAMPLES[file]))
    count = draw(st.integers(min_value=1, max_value=3))
    mutations = [Mutation(draw(st.sampled_from(paths)), draw(OPS)) for _ in range(count)]
    return file, mutations


EVENT_FILES = [file for file, _ in EVENT_SAMPLES]
ALL_FILES = EVENT_FILES + [file for file, _ in STATE_SAMPLES]

# ---------------------------------------------------------------------------- fakes


@dataclass(repr=False)
class RecordingSns:
    published: list[dict[str, Any]] = field(default_factory=list)

    def publish(self, **kwargs: Any) -> dict[str, str]:
        self.published.append(kwargs)
        return {"MessageId": str(len(self.published))}


@dataclass(repr=False)
class RecordingWebhook:
    payloads: list[dict[str, Any]] = field(default_factory=list)

    def post(self, payload: dict[str, Any]) -> dict[str, str]:
        self.payloads.append(copy.deepcopy(payload))
        return {"id": str(len(self.payloads))}


@dataclass(frozen=True)
class RecordingNotify(NotifyDeps):
    """The real NotifyDeps with SNS and Discord recorded (no other sink)."""

    webhook: RecordingWebhook | None = None

    def sinks(
        self, deadline: float | None = None, *, without: frozenset[str] = frozenset()
    ) -> list[Sink]:
        """The real email sink (on the recorded SNS) and Discord's, recorded."""
        from trailwarden.notify.embeds import DiscordSink

        found = [s for s in super().sinks(deadline, without=without) if s.name == "email"]
        if self.webhook is not None and "discord" not in without:
            found.append(DiscordSink(self.webhook))
        return found


class Handlers:
    """Every function's handler module and its Deps (built by the module's own _deps)."""

    def __init__(
        self,
        modules: dict[str, ModuleType],
        deps: dict[str, Any],
        first: dict[str, list[str]],  # workflow -> its first functions (Assess, Alert)
        sns: RecordingSns,
        webhook: RecordingWebhook,
    ) -> None:
        self.modules, self.deps, self.first = modules, deps, first
        self.sns, self.webhook = sns, webhook
        self.calls: Counter[str] = Counter()
        self.outcomes: Counter[str] = Counter()

    def __repr__(self) -> str:
        return f"Handlers({len(self.modules)} functions)"

    def functions_for(self, file: str, named: str | None) -> list[str]:
        return [named] if named else self.first[WORKFLOW_OF[file]]


_CLIENTS: dict[tuple[Any, ...], Any] = {}


@dataclass(repr=False)
class RecordingStepFunctions:
    """The backstop's StartExecution, recorded: an execution would run the state machine
    on moto's background thread, concurrently with these direct handler calls."""

    started: list[dict[str, Any]] = field(default_factory=list)

    def start_execution(self, **kwargs: Any) -> dict[str, str]:
        self.started.append(kwargs)
        arn = str(kwargs["stateMachineArn"]).replace(":stateMachine:", ":execution:")
        return {"executionArn": f"{arn}:{kwargs['name']}"}


def cached_client(service: str, region: str | None = None, *, retries: bool = True) -> Any:
    """make_client, built once per (service, region): creating boto3 clients dominates
    otherwise. A region make_client refuses still raises, as in the app."""
    key = (service, region, retries)
    if key not in _CLIENTS:
        _CLIENTS[key] = make_client(service, region, retries=retries)
    return _CLIENTS[key]


_EXECUTIONS = RecordingStepFunctions()


def _no_executions(service: str, region: str | None = None, *, retries: bool = True) -> Any:
    return _EXECUTIONS if service == "stepfunctions" else cached_client(service, region)


@pytest.fixture(scope="module")
def handlers() -> Iterator[Handlers]:
    sns, webhook = RecordingSns(), RecordingWebhook()
    with (
        mock.patch.dict(os.environ, {"POWERTOOLS_METRICS_DISABLED": "true"}),
        mock_aws(config=dict(LocalApp.MOTO_CONFIG)),
        LocalApp(TEMPLATE, parameters=INDEX["parameters"], start_mock=False) as app,
        pytest.MonkeyPatch.context() as patch,
    ):
        modules: dict[str, ModuleType] = {}
        deps: dict[str, Any] = {}
        first: dict[str, list[str]] = {}
        for shared in ("handlers._store", "handlers._notify_deps"):
            patch.setattr(importlib.import_module(shared), "make_client", cached_client)
        for logical_id, function in app.functions.items():
            module_name, _, _ = function.handler.rpartition(".")
            module = importlib.import_module(module_name)
            factory = _no_executions if module_name == "handlers.backstop" else cached_client
            patch.setattr(module, "make_client", factory, raising=False)
            env = base_environment(os.environ, "us-east-1") | dict(function.environment)
            with mock.patch.dict(os.environ, env):
                built = module._deps.__wrapped__()
            if hasattr(built, "clients"):  # the handler's own client cache: same factory
                built = dataclasses.replace(
                    built, clients=lambda service, region=None, f=factory: f(service, region)
                )
            if hasattr(built, "notify"):
                notify = RecordingNotify(built.notify.settings, sns, None, webhook=webhook)
                built = dataclasses.replace(built, notify=notify)
            elif module_name == "handlers.notify":
                built = RecordingNotify(built.settings, sns, None, webhook=webhook)
            modules[logical_id], deps[logical_id] = module, built
            workflow = function.environment.get("WORKFLOW")
            if workflow and module_name.rpartition(".")[2] in FIRST_FUNCTION_KINDS:
                first.setdefault(workflow, []).append(logical_id)
        yield Handlers(modules, deps, first, sns, webhook)
    _CLIENTS.clear()


@pytest.fixture(scope="module")
def replayer() -> Replayer:
    overrides = [f"{key}={value}" for key, value in INDEX["parameters"].items()]
    ruleset = load_rules(
        TEMPLATE,
        parse_parameter_overrides(overrides),
        INDEX["ownRoleArns"],
        region="us-east-1",
        stack_name="trailwarden",
    )
    return Replayer(ruleset)


# ---------------------------------------------------------------------------- checks

# Discord's own tokens (Slack's <!channel> means nothing to Discord and renders as text).
_RAW_MENTION = re.compile(r"@(everyone|here)|<[@#]", re.IGNORECASE)
_BIDI = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]")


def _strings(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from _strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from _strings(value)


def check_discord(payload: dict[str, Any]) -> None:
    assert payload.get("allowed_mentions") == {"parse": []}, payload.get("allowed_mentions")
    for text in _strings({k: v for k, v in payload.items() if k != "allowed_mentions"}):
        assert not _RAW_MENTION.search(text), text[:200]
        assert not _BIDI.search(text), ascii(text[:200])
        assert all(ch in "\n" or ord(ch) >= 32 for ch in text if ord(ch) < 127), ascii(text)


def check_email(published: dict[str, Any]) -> None:
    subject = published["Subject"]
    assert 0 < len(subject) < 100
    assert all(32 <= ord(ch) < 127 for ch in subject), ascii(subject)
    body = published["Message"]
    assert not _BIDI.search(body), ascii(body[:200])
    assert all(ch == "\n" or ord(ch) >= 32 for ch in body if ord(ch) < 127), ascii(body[:200])


def run_handler(handlers: Handlers, logical_id: str, event: Any) -> Any:
    handlers.calls[logical_id] += 1
    module, deps = handlers.modules[logical_id], handlers.deps[logical_id]
    sent, posted = len(handlers.sns.published), len(handlers.webhook.payloads)
    try:
        result = module.run(event, deps)
    except TrailwardenError as err:
        assert type(err).__name__ in ERROR_NAMES
        handlers.outcomes[f"raised {type(err).__name__}"] += 1
        result = None
    else:
        json.dumps(result)  # Lambda must be able to marshal it
        verdict = result.get("verdict") if isinstance(result, dict) else None
        handlers.outcomes[f"verdict {verdict}" if verdict else "returned"] += 1
    for published in handlers.sns.published[sent:]:
        check_email(published)
    for payload in handlers.webhook.payloads[posted:]:
        check_discord(payload)
    return result


def _fresh_ids(doc: Any, file: str, serial: int) -> Any:
    """A new GUID per example, so dedupe does not end every later example quietly."""
    doc = copy.deepcopy(doc)
    fresh = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{file}#{serial}"))
    if isinstance(doc, dict) and isinstance(doc.get("detail"), dict):
        if isinstance(doc["detail"].get("eventID"), str):
            doc["detail"]["eventID"] = fresh
        if isinstance(doc.get("id"), str):
            doc["id"] = fresh
    return doc


def replay_lines(replayer: Replayer, document: Any, *, gzipped: bool = False) -> list[str]:
    data = json.dumps(document, separators=(",", ":")).encode("utf-8", "surrogatepass")
    result = replayer.process(Loaded("mutated.json", True, data, gzipped=gzipped))
    return result.lines


def planned(replayer: Replayer, file: str, event: Any) -> set[str]:
    """The actions the sample's workflow plans for the event, offline (replay's dry run):
    its own decision and plan, without the rule routing (whether EventBridge matches null
    like an absent field is EventBridge's semantics, not this code's reading)."""
    workflow = BY_ID.get(WORKFLOW_OF.get(file) or "")
    if workflow is None or workflow.remediation is None:
        return set()
    settings = replayer.ruleset.settings
    try:
        decision = decide(event, workflow, settings)
    except InvalidEvent:
        return set()
    detection = decision.detection
    if decision.verdict not in ACTING or detection.outcome is not Outcome.ACT:
        return set()
    if not detection.resource_id:
        return set()
    plan = workflow.remediation.plan(detection.resource_id, detection.facts, None, settings)
    return {json.dumps(action.to_dict(), sort_keys=True, default=str) for action in plan}


# ---------------------------------------------------------------------------- properties

_serial = iter(range(10**9))


def _case(file: str, *mutations: tuple[tuple[str | int, ...], str]) -> Any:
    return (file, [Mutation(path, op) for path, op in mutations])


_RP = ("detail", "requestParameters")
_ISSUER = ("detail", "userIdentity", "sessionContext", "sessionIssuer")
_RULE_0 = ("detail", "responseElements", "securityGroupRuleSet", "items", 0)
HUGE_AT, SPACE_AT, DOTDOT_AT, NEWLINE_AT, UNICODE_AT = 2, 1, 14, 15, 16
assert HOSTILE_STRINGS[HUGE_AT] == HUGE
assert HOSTILE_STRINGS[DOTDOT_AT].startswith("../")
assert HOSTILE_STRINGS[NEWLINE_AT].endswith("\n")


# Every failure the search found (or the issue reported), pinned. Before the fixes:
# an eventID over 2 KB -> ClientError (key too long) in incidents.claim; a "../", unicode
# or newline awsRegion -> InvalidRegionError building a client / ValueError in the WAF ARN;
# a state with a dropped or wrong-typed field -> KeyError/TypeError in Finding.from_dict;
# an API Gateway event whose requestContext is a list -> AttributeError; a groupId of " "
# -> ClientError InvalidGroupId.Malformed from DescribeSecurityGroupRules; a remediation
# state without a region -> ValueError (endpoint); a null remediation status -> KeyError
# in the result message; WAF facts with a protected entry missing "source" -> KeyError; a
# backstop event without a region -> ValueError (endpoint) in the trail re-read; a report
# state whose remediation actions are an object -> AttributeError in the result message; a
# decision time of 2**70 -> OverflowError; an approval POST body with a non-ASCII character
# marked base64 -> ValueError in b64decode.
@settings(PROFILE, max_examples=HANDLER_EXAMPLES)
@given(mutated(ALL_FILES))
@example(_case("ami-exposure/made-public.json", (("detail", "eventID"), f"string:{HUGE_AT}")))
@example(_case("ami-exposure/made-public.json", (("detail", "awsRegion"), f"string:{DOTDOT_AT}")))
@example(_case("ami-exposure/made-public.json", (("detail", "awsRegion"), f"string:{UNICODE_AT}")))
@example(_case("ami-exposure/made-public.json", (("region",), f"string:{HUGE_AT}")))
@example(
    _case("waf-protected-ip/nat-ip-blocked.json", (("detail", "awsRegion"), f"string:{NEWLINE_AT}"))
)
@example(_case("states/ami-exposure-notify.json", (("workflow",), "drop")))
@example(_case("states/ami-exposure-notify.json", (("plan",), "wrong-type:int")))
@example(_case("states/ami-exposure-notify.json", (("plan", 0), f"string:{SPACE_AT}")))
@example(_case("states/ami-exposure-remediate.json", (("region",), f"string:{NEWLINE_AT}")))
@example(_case("states/ami-exposure-remediate.json", (("region",), "drop")))
@example(_case("states/approval-get.json", (("requestContext",), "wrong-type:list")))
@example(_case("states/ami-exposure-report.json", (("remediation", "status"), "null")))
@example(
    _case("states/ami-exposure-report.json", (("remediation", "actions"), "wrong-type:object"))
)
@example(
    _case(
        "states/waf-protected-ip-report-rejected.json",
        (("decision", "decidedAt"), "wrong-type:big-int"),
    )
)
@example(_case("states/approval-post.json", (("body",), "string:3")))
@example(
    _case(
        "cloudtrail-tamper/backstop-trail-not-logging.json",
        (("region",), "drop"),
        (("detail", "trailArn"), "drop"),
    )
)
@example(
    _case(
        "states/waf-protected-ip-remediate-approved.json",
        (("facts", "protected", 0, "source"), "drop"),
    )
)
@example(
    _case(
        "states/waf-protected-ip-remediate-approved.json",
        (("facts", "protected"), "wrong-type:int"),
    )
)
@example(_case("sg-open-ingress/ssh-world-flat.json", ((*_RP, "groupId"), f"string:{SPACE_AT}")))
def test_mutated_samples_never_crash_a_handler_and_alerts_stay_neutral(
    handlers: Handlers, case: tuple[str, list[Mutation]]
) -> None:
    file, mutations = case

    _through_its_handler(handlers, file, mutations)


def _through_its_handler(handlers: Handlers, file: str, mutations: list[Mutation]) -> None:
    (named,) = {fn for f, fn in EVENT_SAMPLES + STATE_SAMPLES if f == file}
    base = _fresh_ids(SAMPLES[file], file, next(_serial))
    event = apply(base, mutations)
    for logical_id in handlers.functions_for(file, named):
        run_handler(handlers, logical_id, copy.deepcopy(event))


# The search above favours some samples; this gives every sample (so every function
# that has one) its own share of the budget.
@pytest.mark.parametrize("file", ALL_FILES)
@settings(PROFILE, max_examples=PER_SAMPLE_EXAMPLES)
@given(data=st.data())
def test_every_sample_mutated_never_crashes_its_handler(
    handlers: Handlers, file: str, data: st.DataObject
) -> None:
    (_, mutations) = data.draw(mutated([file]), label="mutations")

    _through_its_handler(handlers, file, mutations)


@settings(PROFILE, max_examples=REPLAY_EXAMPLES)
@given(mutated(EVENT_FILES))
# Found: a list of plain strings where userIds' object belongs was read as account ids.
@example(
    _case("ami-exposure/shared-untrusted-account.json", ((*_RP, "userIds"), "wrong-type:list"))
)
@example(_case("ami-exposure/made-public.json", ((*_RP, "launchPermission"), "wrong-type:items")))
# Found: a null protocol in the response's rule was read as "all traffic".
@example(_case("sg-open-ingress/ssh-world-flat.json", ((*_RULE_0, "ipProtocol"), "null")))
@example(
    _case("sg-open-ingress/port-range-80-443.json", ((*_RULE_0, "ipProtocol"), "wrong-type:int"))
)
# Found: an IP set name of "../../../etc/passwd" made planning raise ValueError (ARN parse).
@example(
    _case(
        "waf-protected-ip/cloudfront-nat-ip-blocked.json", ((*_RP, "name"), f"string:{DOTDOT_AT}")
    )
)
def test_no_action_is_planned_from_a_field_of_the_wrong_type(
    replayer: Replayer, case: tuple[str, list[Mutation]]
) -> None:
    file, mutations = case
    event, projected = (
        apply(SAMPLES[file], mutations),
        apply(SAMPLES[file], mutations, project=True),
    )

    from_wrong_types = planned(replayer, file, event) - planned(replayer, file, projected)

    assert from_wrong_types == set()


@settings(PROFILE, max_examples=REPLAY_EXAMPLES)
@given(mutated(EVENT_FILES), st.booleans())
# The issue's crash: "unhashable type: 'dict'" in _why_not, and every later record lost.
@example(
    _case("sg-open-ingress/own-role-call.json", ((*_ISSUER, "arn"), "wrong-type:object")), True
)
@example(
    _case("sg-open-ingress/own-role-call.json", ((*_ISSUER, "arn"), "wrong-type:object")), False
)
@example(_case("iam-user-change/create-user.json", (("detail", "eventID"), "drop")), True)
def test_replay_answers_every_mutated_record_with_one_line(
    replayer: Replayer, case: tuple[str, list[Mutation]], gzipped: bool
) -> None:
    file, mutations = case
    event = apply(SAMPLES[file], mutations)
    valid = SAMPLES["iam-user-change/create-user.json"]["detail"]
    records: list[Any] = [valid]
    if isinstance(event, dict) and event.get("detail-type") == CLOUDTRAIL:
        records.append(event.get("detail"))
    records.append(valid)

    log_lines = replay_lines(replayer, {"Records": records}, gzipped=gzipped)
    event_lines = replay_lines(replayer, event) if isinstance(event, dict) else []

    assert len(log_lines) == len(records)
    assert len(event_lines) == 1
    for text in log_lines + event_lines:
        line = json.loads(text)
        assert {"eventID", "key", "eventName", "workflow", "verdict", "reason"} <= set(line)
        assert line["verdict"] in ("ignore", "alert", "remediate", "approval")
    assert json.loads(log_lines[-1])["verdict"] == "alert"
