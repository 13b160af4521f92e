"""app-tamper: someone switches this app off by changing its own rules, state machines,
functions, topic or backstop schedule (alert only)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from trailwarden.models.modes import Mode
from trailwarden.workflows.declaration import (
    APP_RESOURCE_NAMES,
    EVERY_ACTING_ROLE,
    EXECUTION_ARN_PREFIXES,
    STATE_MACHINE_ARN_PREFIXES,
    Declaration,
    FunctionSpec,
    ModeParameter,
    Rule,
    sub,
)

if TYPE_CHECKING:
    from trailwarden.workflows.declaration import Workflow

_STACK_PREFIX = [{"prefix": sub("${AWS::StackName}-")}]
# CloudTrail logs Lambda calls with an API-version suffix (DeleteFunction20150331,
# UpdateFunctionCode20150331v2 ...).
_LAMBDA_CALLS = (
    "DeleteFunction",
    "UpdateFunctionCode",
    "UpdateFunctionConfiguration",
    "PutFunctionConcurrency",
    "RemovePermission",
)

DECLARATION = Declaration(
    id="app-tamper",
    title="this app's own rules, state machines, functions, topic or schedule changed",
    mode=ModeParameter(
        "AppTamperMode",
        Mode.ALERT,
        "app-tamper: critical alerts when someone changes or switches off this app's own "
        "rules, state machines, functions, topic or backstop schedule (info when the "
        "change came through CloudFormation); off ignores them.",
    ),
    # One rule per service, each with its source: one pattern naming every resource would
    # exceed EventBridge's 2,048-character pattern quota. Rule, function and schedule
    # names CloudFormation generates start with "<StackName>-" (a prefix match needs no
    # reference to them, so no circular dependency); state machines and the topic are
    # matched by ARN.
    rules=(
        Rule(
            "AppRulesChanged",
            source=("aws.events",),
            detail={
                "eventSource": ["events.amazonaws.com"],
                "$or": [
                    {
                        "eventName": ["DeleteRule", "DisableRule", "PutRule"],
                        "requestParameters": {"name": _STACK_PREFIX},
                    },
                    {
                        "eventName": ["RemoveTargets", "PutTargets"],
                        "requestParameters": {"rule": _STACK_PREFIX},
                    },
                ],
            },
            target="alert",
        ),
        Rule(
            "AppStateMachinesChanged",
            source=("aws.states",),
            detail={
                "eventSource": ["states.amazonaws.com"],
                "$or": [
                    {
                        "eventName": ["DeleteStateMachine", "UpdateStateMachine"],
                        # the ARN itself and its versions (ARN:N)
                        "requestParameters": {"stateMachineArn": [STATE_MACHINE_ARN_PREFIXES]},
                    },
                    {
                        "eventName": ["StopExecution"],
                        "requestParameters": {"executionArn": [EXECUTION_ARN_PREFIXES]},
                    },
                ],
            },
            target="alert",
            # Each state machine adds two ARN prefixes (~200 characters resolved).
            split_to_fit=True,
        ),
        Rule(
            "AppFunctionsChanged",
            source=("aws.lambda",),
            detail={
                "eventSource": ["lambda.amazonaws.com"],
                "eventName": [
                    entry for call in _LAMBDA_CALLS for entry in (call, {"prefix": call + "2"})
                ],
                "requestParameters": {
                    "functionName": [
                        {"prefix": sub("${AWS::StackName}-")},
                        {
                            "prefix": sub(
                                "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}"
                                ":function:${AWS::StackName}-"
                            )
                        },
                        {"prefix": sub("${AWS::AccountId}:function:${AWS::StackName}-")},
                    ]
                },
            },
            target="alert",
        ),
        Rule(
            "AppTopicOrScheduleChanged",
            source=("aws.sns", "aws.scheduler"),
            detail={
                "$or": [
                    {
                        "eventSource": ["sns.amazonaws.com"],
                        "eventName": ["DeleteTopic"],
                        "requestParameters": {"topicArn": [{"Ref": "AlertTopic"}]},
                    },
                    {
                        "eventSource": ["sns.amazonaws.com"],
                        "eventName": ["Unsubscribe"],
                        "requestParameters": {
                            "subscriptionArn": [{"prefix": sub("${AlertTopic}:")}]
                        },
                    },
                    # The schedule's name is checked by the function (request shape varies).
                    {
                        "eventSource": ["scheduler.amazonaws.com"],
                        "eventName": ["DeleteSchedule", "UpdateSchedule"],
                    },
                ],
            },
            target="alert",
        ),
    ),
    alert=FunctionSpec(
        "app-tamper - critical alert when the app's own rules, state machines, functions "
        "or topic change",
        constants={"APP_RESOURCE_NAMES": APP_RESOURCE_NAMES},
    ),
    # Every caller matches (an attacker's role is any role) except the app's own
    # remediation and backstop roles, by exact ARN.
    ignores_calls_of=(EVERY_ACTING_ROLE,),
)


def load() -> Workflow:
    from trailwarden.workflows.app_tamper import detection
    from trailwarden.workflows.declaration import Workflow

    return Workflow(
        DECLARATION,
        triggers=detection.TRIGGERS,
        detect=detection.detect,
        # The backstop's "App Rule Disabled / Missing / Without Targets" events.
        detect_envelope=detection.detect_envelope,
        envelope_triggers=detection.ENVELOPE_TRIGGERS,
    )
