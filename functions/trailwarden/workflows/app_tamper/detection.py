"""app-tamper: someone switches this app off by changing its own rules, state machines,
functions, topic or backstop schedule.

The rule pattern already selects the app's resources (EventBridge rule, function and
schedule names CloudFormation generates start with ``<StackName>-``; state machines and
the topic are matched by ARN). The detection checks again against ``APP_RESOURCE_NAMES``
(exact names/ARNs, or prefixes ending in ``*``) so replay and the function agree with the
rule. Changes made through CloudFormation (a stack update is also a way to switch the
app off) are reported at info severity, never dropped; everything else is critical.

Lambda's CloudTrail event names carry an API-version suffix (``DeleteFunction20150331``,
``UpdateFunctionCode20150331v2``): they are compared without it.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from trailwarden.models.findings import Detection, Outcome, Severity
from trailwarden.workflows.app_tamper import DECLARATION
from trailwarden.workflows.common import text_of

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from trailwarden.models.events import CloudTrailEvent, Envelope
    from trailwarden.models.settings import DetectionSettings

WORKFLOW = DECLARATION.id

_RULE = ("AWS::Events::Rule", ("name", "rule"))
_STATE_MACHINE = ("AWS::StepFunctions::StateMachine", ("stateMachineArn",))
_FUNCTION = ("AWS::Lambda::Function", ("functionName",))
_SCHEDULE = ("AWS::Scheduler::Schedule", ("name", "Name"))

# eventSource -> {call name without version suffix: (resource type, request keys naming it)}
CALLS: dict[str, dict[str, tuple[str, tuple[str, ...]]]] = {
    "events.amazonaws.com": dict.fromkeys(
        ("DeleteRule", "DisableRule", "RemoveTargets", "PutRule", "PutTargets"), _RULE
    ),
    "states.amazonaws.com": {
        "DeleteStateMachine": _STATE_MACHINE,
        "UpdateStateMachine": _STATE_MACHINE,
        "StopExecution": ("AWS::StepFunctions::StateMachine", ("executionArn",)),
    },
    "lambda.amazonaws.com": dict.fromkeys(
        (
            "DeleteFunction",
            "UpdateFunctionCode",
            "UpdateFunctionConfiguration",
            "PutFunctionConcurrency",
            "RemovePermission",
        ),
        _FUNCTION,
    ),
    "sns.amazonaws.com": {
        "DeleteTopic": ("AWS::SNS::Topic", ("topicArn",)),
        "Unsubscribe": ("AWS::SNS::Topic", ("subscriptionArn",)),
    },
    "scheduler.amazonaws.com": dict.fromkeys(("DeleteSchedule", "UpdateSchedule"), _SCHEDULE),
}

# The versioned names Lambda logs today; detect() also accepts any other date suffix.
LAMBDA_EVENT_NAMES = (
    "DeleteFunction20150331",
    "UpdateFunctionCode20150331v2",
    "UpdateFunctionConfiguration20150331v2",
    "PutFunctionConcurrency20171031",
    "RemovePermission20150331v2",
)

TRIGGERS = frozenset(
    {(source, name) for source, calls in CALLS.items() for name in calls}
    | {("lambda.amazonaws.com", name) for name in LAMBDA_EVENT_NAMES}
)

# The synthetic events the scheduled backstop sends (contract between backstop.py and here).
BACKSTOP_SOURCE = "trailwarden.backstop"
RULE_DISABLED = "App Rule Disabled"
RULE_MISSING = "App Rule Missing"
RULE_WITHOUT_TARGETS = "App Rule Without Targets"
ENVELOPE_TRIGGERS = frozenset(
    (BACKSTOP_SOURCE, kind) for kind in (RULE_DISABLED, RULE_MISSING, RULE_WITHOUT_TARGETS)
)
_BACKSTOP_REASONS = {
    RULE_DISABLED: "is {state}: its workflow no longer receives events",
    RULE_MISSING: "no longer exists: its workflow no longer receives events",
    RULE_WITHOUT_TARGETS: "has no targets: matching events go nowhere",
}

_VERSION_SUFFIX = re.compile(r"\d{8}(v\d+)?$")


def base_call_name(event_name: str) -> str:
    """``UpdateFunctionCode20150331v2`` -> ``UpdateFunctionCode``."""
    return _VERSION_SUFFIX.sub("", event_name)


def normalise_resource(resource_type: str, value: str) -> str:
    """The identifier APP_RESOURCE_NAMES lists for what a request names.

    Function ARNs / partial ARNs -> function name; execution ARN -> its state machine's
    ARN; qualified state machine ARN -> unqualified; subscription ARN -> topic ARN.
    """
    if resource_type == "AWS::Lambda::Function" and ":function:" in value:
        return value.split(":function:", 1)[1].split(":", 1)[0]
    if resource_type == "AWS::StepFunctions::StateMachine" and value.startswith("arn:"):
        parts = value.split(":")
        if len(parts) >= 8 and parts[5] == "execution":
            return ":".join([*parts[:5], "stateMachine", parts[6]])
        return ":".join(parts[:7])
    if resource_type == "AWS::SNS::Topic" and value.startswith("arn:"):
        parts = value.split(":")
        return ":".join(parts[:6])
    return value


def is_app_resource(identifier: str, names: Iterable[str]) -> bool:
    for entry in names:
        if entry.endswith("*"):
            if identifier.startswith(entry[:-1]):
                return True
        elif identifier == entry:
            return True
    return False


CLOUDFORMATION = "cloudformation.amazonaws.com"


def made_by_cloudformation(event: CloudTrailEvent) -> bool:
    """Only fields AWS fills in count: ``invokedBy`` and the service ``sourceIPAddress``.
    The user agent is the caller's to choose, so it cannot downgrade an alert."""
    return CLOUDFORMATION in (event.actor.invoked_by, event.actor.source_ip)


def detect(event: CloudTrailEvent, settings: DetectionSettings) -> Detection:
    call = base_call_name(event.event_name)
    known = CALLS.get(event.event_source, {}).get(call)
    if known is None:
        return Detection(WORKFLOW, Outcome.IGNORE, Severity.INFO, f"{event.event_name} not watched")
    resource_type, keys = known
    request = event.request
    named = next((text_of(request.get(k)) for k in keys if text_of(request.get(k))), "")
    if not named:
        return Detection(
            WORKFLOW, Outcome.IGNORE, Severity.INFO, f"no resource named in {event.event_name}"
        )
    resource = normalise_resource(resource_type, named)
    if settings.app_resource_names and not is_app_resource(resource, settings.app_resource_names):
        return Detection(
            WORKFLOW, Outcome.IGNORE, Severity.INFO, f"{resource} is not one of the app's"
        )
    facts: dict[str, Any] = {"call": call, "named": named, "resource": resource}
    if call == "PutRule" and text_of(request.get("state")):
        facts["state"] = text_of(request.get("state"))
    if call == "PutFunctionConcurrency":
        facts["reservedConcurrentExecutions"] = request.get("reservedConcurrentExecutions")
    actor = event.actor
    if made_by_cloudformation(event):
        facts["viaCloudFormation"] = True
        return Detection(
            WORKFLOW,
            Outcome.ALERT,
            Severity.INFO,
            f"{call} on the app's {resource} through CloudFormation (a stack change)",
            resource_type,
            resource,
            facts,
        )
    who = actor.arn or actor.type or "unknown caller"
    return Detection(
        WORKFLOW,
        Outcome.ALERT,
        Severity.CRITICAL,
        f"{call} on the app's own {resource} by {who}: trailwarden may be switched off",
        resource_type,
        resource,
        facts,
    )


def detect_envelope(envelope: Envelope, settings: DetectionSettings) -> Detection:
    """The scheduled backstop's findings about the app's own rules."""
    if envelope.source != BACKSTOP_SOURCE or envelope.detail_type not in _BACKSTOP_REASONS:
        return Detection(
            WORKFLOW,
            Outcome.IGNORE,
            Severity.INFO,
            f"unexpected event {envelope.source!r} / {envelope.detail_type!r}",
        )
    detail: Mapping[str, Any] = envelope.detail
    rule = text_of(detail.get("ruleName"))
    if not rule:
        return Detection(WORKFLOW, Outcome.IGNORE, Severity.INFO, "no ruleName in the event")
    state = text_of(detail.get("state")) or "DISABLED"
    reason = _BACKSTOP_REASONS[envelope.detail_type].format(state=state)
    return Detection(
        WORKFLOW,
        Outcome.ALERT,
        Severity.CRITICAL,
        f"the app's rule {rule} {reason} (found by the scheduled check)",
        "AWS::Events::Rule",
        rule,
        {"rule": rule, "state": state, "foundBy": "backstop"},
    )
