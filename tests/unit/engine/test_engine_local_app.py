"""The fixture template provisioned in moto, run end to end."""

from __future__ import annotations

import json
import os
import sys
import time
from typing import TYPE_CHECKING, Any

import boto3
import moto
import pytest
from botocore.handlers import BUILTIN_HANDLERS
from moto.awslambda_simple.models import LambdaSimpleBackend

from trailwarden_local.engine import EngineStateError, LocalApp

from .conftest import FIXTURE_DIR, FIXTURE_TEMPLATE, api_call

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

EXPECTED_OPERATIONS = {
    "RecordFunction": {"dynamodb:PutItem", "sns:Publish"},
    "FailFunction": {"sts:GetCallerIdentity"},
    "EchoAFunction": set(),
    "EchoBFunction": set(),
}


def _run(app: LocalApp, event: dict[str, Any]) -> dict[str, Any]:
    (delivery,) = app.put_event(event)
    assert delivery.kind == "stepfunctions"
    assert delivery.execution_arn is not None
    description: dict[str, Any] = app.wait_for_execution(delivery.execution_arn, timeout=20)
    return description


def test_template_expands_and_provisions(app: LocalApp) -> None:
    assert set(app.functions) == set(EXPECTED_OPERATIONS)
    record = app.functions["RecordFunction"]
    assert record.handler == "fixture_handlers.record.handler"
    assert record.code_dir == FIXTURE_DIR / "src"
    assert record.role_logical_id == "RecordFunctionRole"
    assert record.role_arn == app.stack.attribute("RecordFunctionRole", "Arn")
    assert record.environment == {
        "STAGE": "dev",
        "TABLE_NAME": app.resource("RecordsTable"),
        "TOPIC_ARN": app.resource("AlertsTopic"),
        "TOPIC_NAME": "trailwarden-local-alerts",
        "RETENTION_DAYS": "1",
        "PROD_WITH_EXTRAS": "no",
        "JOINED": "us-east-1-${Literal}/dev@123456789012",
    }
    lam = app.client("lambda").get_function(FunctionName=record.physical_name)
    assert lam["Configuration"]["Environment"]["Variables"] == dict(record.environment)

    ttl = app.client("dynamodb").describe_time_to_live(TableName=app.resource("RecordsTable"))
    assert ttl["TimeToLiveDescription"] == {
        "TimeToLiveStatus": "ENABLED",
        "AttributeName": "expiresAt",
    }

    machine = app.state_machines["FlowStateMachine"]
    assert machine.substitutions["RecordFunctionArn"] == record.arn
    assert machine.definition["States"]["Record"]["Resource"] == record.arn
    described = app.client("stepfunctions").describe_state_machine(stateMachineArn=machine.arn)
    assert "${" not in described["definition"]

    rule = app.rules["FlowStateMachineOnApiCall"]
    assert rule.pattern == {
        "source": ["aws.ec2"],
        "detail-type": ["AWS API Call via CloudTrail"],
        "detail": {"eventName": ["RunInstances", "Explode", "Linger"]},
    }
    (target,) = rule.targets
    assert target["Arn"] == machine.arn
    assert target["RetryPolicy"] == {"MaximumRetryAttempts": 3, "MaximumEventAgeInSeconds": 600}
    assert target["DeadLetterConfig"]["Arn"] == app.stack.attribute(
        "FlowStateMachineOnApiCallQueue", "Arn"
    )

    assert {k: v.type for k, v in app.skipped_resources.items()} == {
        "FlowLogGroup": "AWS::Logs::LogGroup",
        "EchoAFunctionPingPermission": "AWS::Lambda::Permission",
        "FlowStateMachineOnApiCallQueuePolicy": "AWS::SQS::QueuePolicy",
    }
    assert app.inactive_resources == {"ExtrasQueue"}
    with pytest.raises(KeyError, match="Condition is false"):
        app.resource("ExtrasQueue")
    assert app.stack.outputs == {"TableName": app.resource("RecordsTable"), "FlowArn": machine.arn}
    assert "ExtrasQueue" not in app.stack.expanded_template["Resources"]


def test_condition_true_creates_the_resource() -> None:
    with LocalApp(FIXTURE_TEMPLATE, parameters={"EnableExtras": "true", "Stage": "prod"}) as app:
        url = app.resource("ExtrasQueue")
        assert app.functions["RecordFunction"].environment["EXTRAS_QUEUE_URL"] == url
        assert app.functions["RecordFunction"].environment["PROD_WITH_EXTRAS"] == "yes"
        assert app.stack.outputs["ExtrasQueueUrl"] == url
        attributes = app.client("sqs").get_queue_attributes(
            QueueUrl=url, AttributeNames=["MessageRetentionPeriod"]
        )["Attributes"]
        assert attributes["MessageRetentionPeriod"] == "1209600"


def test_matching_event_runs_the_workflow_and_writes_the_item(
    app: LocalApp, capsys: pytest.CaptureFixture[str]
) -> None:
    event = {**api_call("RunInstances"), "id": "evt-1"}
    result = _run(app, event)

    assert result["status"] == "SUCCEEDED"
    output = json.loads(result["output"])
    assert output["record"] == {
        "recorded": "event#evt-1",
        "function_name": app.functions["RecordFunction"].physical_name,
        "has_time_left": True,
    }
    item = app.client("dynamodb").get_item(
        TableName=app.resource("RecordsTable"), Key={"pk": {"S": "event#evt-1"}}
    )["Item"]
    assert item == {
        "pk": {"S": "event#evt-1"},
        "eventName": {"S": "RunInstances"},
        "stage": {"S": "dev"},
    }
    assert app.entered_states(result["executionArn"]) == ["Record", "Route", "Notify"]
    assert app.state_transitions(result["executionArn"]) == 3
    captured = capsys.readouterr()
    assert captured.out == ""  # the handler's EMF-style print went to stderr
    assert '"recorded": 1' in captured.err


def test_non_matching_event_starts_nothing(app: LocalApp) -> None:
    assert app.put_event(api_call("DescribeInstances")) == []
    assert app.put_event({**api_call("RunInstances"), "source": "aws.s3"}) == []
    machine = app.state_machines["FlowStateMachine"]
    listed = app.client("stepfunctions").list_executions(stateMachineArn=machine.arn)
    assert listed["executions"] == []
    assert app.executions == []


def test_disabling_the_rule_in_moto_stops_routing(app: LocalApp) -> None:
    rule = app.rules["FlowStateMachineOnApiCall"]
    app.client("events").disable_rule(Name=rule.name)
    assert app.put_event(api_call("RunInstances")) == []
    app.client("events").enable_rule(Name=rule.name)
    assert len(app.put_event(api_call("RunInstances"))) == 1


def test_boom_is_retried_and_caught_by_class_name(app: LocalApp) -> None:
    result = _run(app, api_call("Explode"))

    assert result["status"] == "SUCCEEDED"
    output = json.loads(result["output"])
    assert output["outcome"] == "caught"
    assert output["error"]["Error"] == "Boom"
    cause = json.loads(output["error"]["Cause"])
    assert cause["errorType"] == "Boom"
    assert cause["errorMessage"] == "kaboom: Explode"
    assert any("fail.py" in frame for frame in cause["stackTrace"])

    history = app.execution_history(result["executionArn"])
    failures = [e["taskFailedEventDetails"] for e in history if e["type"] == "TaskFailed"]
    assert [f["error"] for f in failures] == ["Boom", "Boom"]  # first try + one Retry
    assert app.entered_states(result["executionArn"]) == ["Record", "Route", "Explode", "Caught"]
    errors = [(i.function_logical_id, i.error_type) for i in app.invocations if i.error_type]
    assert errors == [("FailFunction", "Boom"), ("FailFunction", "Boom")]


def test_operations_are_recorded_per_function(app: LocalApp) -> None:
    assert _run(app, api_call("RunInstances"))["status"] == "SUCCEEDED"
    assert app.invoke("FailFunction", {}).function_error == "Unhandled"
    app.invoke("EchoBFunction", {})

    assert app.operations_by_function() == EXPECTED_OPERATIONS
    # moto's executor invoked the functions and published to SNS itself: not attributed.
    assert all(action != "lambda:Invoke" for _, action in app.operation_calls())
    assert app.operation_calls().count(("RecordFunction", "sns:Publish")) == 1
    app.reset_operations()
    assert app.operations_by_function()["RecordFunction"] == set()


def test_functions_sharing_a_handler_file_are_isolated(
    app: LocalApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    a1 = app.invoke("EchoAFunction", {"n": 1})
    b1 = app.invoke("EchoBFunction", {"n": 2})
    a2 = app.invoke(app.functions["EchoAFunction"].arn + ":$LATEST", {"n": 3})

    assert a1.function_error is None
    assert (a1.payload["cached_label"], a1.payload["env_label"]) == ("a", "a")
    assert (b1.payload["cached_label"], b1.payload["env_label"]) == ("b", "b")
    assert a1.payload["module"] != b1.payload["module"]
    assert a1.payload["token"] == a2.payload["token"] != b1.payload["token"]
    assert a2.payload["event"] == {"n": 3}
    assert a1.payload["function_name"] == app.functions["EchoAFunction"].physical_name
    assert a1.payload["context_arn"] == app.functions["EchoAFunction"].arn
    assert os.environ.get("LABEL") is None  # restored after each invocation


def test_function_environment_is_lambda_like(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POWERTOOLS_DEV", "1")
    monkeypatch.setenv("TW_HOST_ONLY", "kept")
    with LocalApp(FIXTURE_TEMPLATE, function_env_overrides={"ENGINE_OVERRIDE": "yes"}) as app:
        payload = app.invoke("EchoAFunction", {}).payload
        assert os.environ["POWERTOOLS_DEV"] == "1"  # the host's env is back
    assert payload["powertools_dev"] is None
    assert payload["trace_disabled"] == "true"
    assert payload["region"] == "us-east-1"
    assert payload["override"] == "yes"
    assert payload["host_only"] == "kept"


def test_lambda_rule_target_is_invoked(app: LocalApp) -> None:
    (delivery,) = app.put_event({"source": "fixture.ping", "detail-type": "ping", "detail": {}})
    assert delivery.rule_logical_id == "EchoAFunctionPing"
    assert delivery.kind == "lambda"
    assert delivery.function_error is None
    assert delivery.lambda_result["cached_label"] == "a"
    assert delivery.lambda_result["event"]["source"] == "fixture.ping"
    assert delivery.lambda_result["event"]["account"] == "123456789012"  # envelope filled in


def test_wait_times_out_and_shutdown_stops_running_executions() -> None:
    app = LocalApp(FIXTURE_TEMPLATE, shutdown_timeout=0.2)
    with app:
        (delivery,) = app.put_event(api_call("Linger"))
        arn = delivery.execution_arn
        assert arn is not None
        deadline = time.monotonic() + 10
        while "Linger" not in app.entered_states(arn) and time.monotonic() < deadline:
            time.sleep(0.01)
        with pytest.raises(TimeoutError, match=r"still RUNNING after 0.1s.*'Linger'"):
            app.wait_for_execution(arn, timeout=0.1)
        leaving = time.monotonic()
    assert time.monotonic() - leaving < 5  # the 30 s Wait was stopped, not awaited
    with pytest.raises(EngineStateError, match="not started"):
        app.put_event(api_call("Linger"))


def test_own_mock_is_started_and_everything_restored() -> None:
    original_invoke = LambdaSimpleBackend.invoke
    builtin_handlers = list(BUILTIN_HANDLERS)
    stdout = sys.stdout
    with LocalApp(FIXTURE_TEMPLATE) as app:
        assert LambdaSimpleBackend.invoke is not original_invoke
        assert str(FIXTURE_DIR / "src") in sys.path
        assert app.invoke("EchoBFunction", {}).payload["cached_label"] == "b"
        module = app.invoke("EchoBFunction", {}).payload["module"]
        assert module in sys.modules
    assert LambdaSimpleBackend.invoke is original_invoke
    assert list(BUILTIN_HANDLERS) == builtin_handlers
    assert sys.stdout is stdout
    assert str(FIXTURE_DIR / "src") not in sys.path
    assert module not in sys.modules


def test_start_mock_false_requires_an_active_mock() -> None:
    with pytest.raises(EngineStateError, match="no moto mock is active"):
        LocalApp(FIXTURE_TEMPLATE, start_mock=False).start()


def test_start_mock_false_requires_the_engine_config() -> None:
    with moto.mock_aws(), pytest.raises(EngineStateError, match="MOTO_CONFIG"):
        LocalApp(FIXTURE_TEMPLATE, start_mock=False).start()


@pytest.fixture
def early_client() -> Iterator[Any]:
    config: Any = LocalApp.MOTO_CONFIG
    with moto.mock_aws(config=config):
        yield boto3.client("sts", region_name="us-east-1")  # default session before the app


def test_default_session_created_before_the_app_is_still_recorded(early_client: Any) -> None:
    with LocalApp(FIXTURE_TEMPLATE, start_mock=False) as app:
        assert app.invoke("FailFunction", {}).function_error == "Unhandled"
        assert app.operations_by_function()["FailFunction"] == {"sts:GetCallerIdentity"}


_RUNTIME_ERRORS_TEMPLATE = """
Transform: AWS::Serverless-2016-10-31
Globals:
  Function: {Runtime: python3.12, CodeUri: src/}
Resources:
  Missing: {Type: AWS::Serverless::Function, Properties: {Handler: nowhere.handler}}
  NoHandler: {Type: AWS::Serverless::Function, Properties: {Handler: mod.nothere}}
  Unserializable: {Type: AWS::Serverless::Function, Properties: {Handler: mod.handler}}
"""


def test_runtime_errors_match_lambda(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "mod.py").write_text(
        "def handler(event, context):\n    return {1, 2}\n",
        encoding="utf-8",
    )
    (tmp_path / "template.yaml").write_text(_RUNTIME_ERRORS_TEMPLATE, encoding="utf-8")
    with LocalApp(tmp_path / "template.yaml") as app:
        for function, error_type in [
            ("Missing", "Runtime.ImportModuleError"),
            ("NoHandler", "Runtime.HandlerNotFound"),
            ("Unserializable", "Runtime.MarshalError"),
        ]:
            result = app.invoke(function, {})
            assert result.function_error == "Unhandled"
            assert result.payload["errorType"] == error_type
