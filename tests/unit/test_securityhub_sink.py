"""The Security Hub sink: ASFF within its limits, one finding per incident, closed with
BatchUpdateFindings, only from the finding's own account, and failures that say no more
than a type and a code."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import boto3
import botocore.session
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from botocore.stub import Stubber
from botocore.validate import ParamValidator
from moto import mock_aws

from trailwarden.models.errors import MemberUnreachable, NotificationFailed
from trailwarden.models.findings import Finding, PlannedAction, Severity, Verdict
from trailwarden.notify import messages
from trailwarden.notify.securityhub import (
    ASFF_RESOURCE_TYPES,
    LIMITS,
    NOTE_TEXT_LIMIT,
    SecurityHubClient,
    SecurityHubSink,
    caller_may_import,
    finding_id,
    product_arn,
)
from trailwarden.notify.sinks import SINK_NAMES, Notice, deliver_all

if TYPE_CHECKING:
    from collections.abc import Iterator

ACCOUNT = "123456789012"
OTHER_ACCOUNT = "210987654321"
REGION = "eu-west-1"
ZONE = ZoneInfo("UTC")
NOW = datetime(2026, 12, 5, 1, 2, 3, 456000, tzinfo=UTC)
EVENT_ID = "b7d3c1e2-1111-4a2b-9c3d-000000000001"
# Characters a console would not show as typed: RTL override, zero-width space, BOM,
# a control character, an ANSI escape, Hangul filler.
HOSTILE = "evil\u202egpj.exe\u200b\ufeff\x07\x1b[31m\u3164name"
SERVICE = botocore.session.get_session().get_service_model("securityhub")


def finding(**changes: Any) -> Finding:
    base: dict[str, Any] = {
        "workflow": "ami-exposure",
        "event_id": EVENT_ID,
        "event_name": "ModifyImageAttribute",
        "event_time": "2026-11-24T02:15:30Z",
        "region": REGION,
        "account": ACCOUNT,
        "verdict": Verdict.REMEDIATE,
        "severity": Severity.CRITICAL,
        "reason": "AMI made public (group: all)",
        "resource_type": "AWS::EC2::Image",
        "resource_id": "ami-0a1b2c3d4e5f60718",
        "actor": {"type": "IAMUser", "arn": f"arn:aws:iam::{ACCOUNT}:user/alice"},
        "plan": (
            PlannedAction("ec2:ModifyImageAttribute", "ami-1", "remove launch permission: public"),
        ),
        "key": EVENT_ID,
    }
    base.update(changes)
    return Finding(**base)


def raised(f: Finding | None = None) -> Notice:
    f = f or finding()
    return Notice(messages.detected(f, "en", ZONE), f, "raised", str(f.verdict))


def closed(status: str, done: tuple[str, ...] = (), f: Finding | None = None) -> Notice:
    f = f or finding()
    message = messages.result(f, status, "en", ZONE)
    return Notice(message, f, "closed", status, done)


def sink_with(client: Any, account: str = ACCOUNT) -> SecurityHubSink:
    return SecurityHubSink(lambda _f: SecurityHubClient(client, account), clock=lambda: NOW)


def valid(operation: str, request: Any) -> None:
    """Raises when botocore's service model refuses the request (Stubber's own check)."""
    shape = SERVICE.operation_model(operation).input_shape
    report = ParamValidator().validate(request, shape)
    assert not report.has_errors(), report.generate_report()


# --- render --------------------------------------------------------------------------


def test_a_raised_incident_is_an_asff_finding_with_the_required_set() -> None:
    rendered = sink_with(None).render(raised())

    (asff,) = rendered.request["Findings"]
    assert rendered.operation == "import"
    assert set(SERVICE.shape_for("AwsSecurityFinding").required_members) <= set(asff)
    assert {"Types", "Severity"} <= set(asff)
    assert asff["SchemaVersion"] == "2018-10-08"
    assert asff["Id"] == f"trailwarden/{ACCOUNT}/ami-exposure/{EVENT_ID}"
    assert asff["ProductArn"] == f"arn:aws:securityhub:{REGION}:{ACCOUNT}:product/{ACCOUNT}/default"
    assert asff["AwsAccountId"] == ACCOUNT
    assert asff["GeneratorId"] == "trailwarden-ami-exposure"
    assert asff["Severity"] == {"Label": "CRITICAL"}
    assert asff["CreatedAt"] == "2026-11-24T02:15:30.000Z"
    assert asff["UpdatedAt"] == "2026-12-05T01:02:03.456Z"
    assert asff["Resources"] == [
        {
            "Type": "Other",
            "Id": f"arn:aws:ec2:{REGION}::image/ami-0a1b2c3d4e5f60718",
            "Partition": "aws",
            "Region": REGION,
        }
    ]
    assert "Effects/Data Exposure" in asff["Types"]
    assert asff["ProductFields"]["trailwarden/eventID"] == EVENT_ID
    assert asff["ProductFields"]["trailwarden/verdict"] == "remediate"
    assert "remove launch permission: public" in asff["Remediation"]["Recommendation"]["Text"]
    assert "SourceUrl" not in asff
    valid("BatchImportFindings", rendered.request)


def test_an_alert_has_no_remediation_recommendation() -> None:
    rendered = sink_with(None).render(raised(finding(verdict=Verdict.ALERT, plan=())))

    (asff,) = rendered.request["Findings"]

    assert "Remediation" not in asff


@pytest.mark.parametrize(
    ("severity", "label"),
    [
        (Severity.INFO, "INFORMATIONAL"),
        (Severity.MEDIUM, "MEDIUM"),
        (Severity.HIGH, "HIGH"),
        (Severity.CRITICAL, "CRITICAL"),
    ],
)
def test_our_severity_becomes_the_asff_label(severity: Severity, label: str) -> None:
    (asff,) = sink_with(None).render(raised(finding(severity=severity))).request["Findings"]

    assert asff["Severity"]["Label"] == label
    assert asff["FindingProviderFields"]["Severity"]["Label"] == label


def test_every_mapped_resource_type_is_one_asff_knows() -> None:
    known = set(SERVICE.shape_for("ResourceDetails").members)

    assert set(ASFF_RESOURCE_TYPES.values()) <= known


def test_a_security_group_is_an_asff_security_group() -> None:
    f = finding(resource_type="AWS::EC2::SecurityGroup", resource_id="sg-0123456789abcdef0")

    (asff,) = sink_with(None).render(raised(f)).request["Findings"]

    assert asff["Resources"][0]["Type"] == "AwsEc2SecurityGroup"
    assert asff["Resources"][0]["Id"] == (
        f"arn:aws:ec2:{REGION}:{ACCOUNT}:security-group/sg-0123456789abcdef0"
    )


def test_a_resource_named_by_its_arn_keeps_it() -> None:
    arn = f"arn:aws:cloudtrail:us-east-1:{ACCOUNT}:trail/org-trail"
    f = finding(resource_type="AWS::CloudTrail::Trail", resource_id=arn)

    (asff,) = sink_with(None).render(raised(f)).request["Findings"]

    assert asff["Resources"][0] == {
        "Type": "AwsCloudTrailTrail",
        "Id": arn,
        "Partition": "aws",
        "Region": REGION,
    }
    assert "TTPs/Defense Evasion" in asff["Types"]


def test_a_finding_without_a_resource_names_the_account() -> None:
    (asff,) = sink_with(None).render(raised(finding(resource_id=""))).request["Findings"]

    assert asff["Resources"][0]["Type"] == "AwsAccount"
    assert asff["Resources"][0]["Id"] == f"AWS::::Account:{ACCOUNT}"


def test_a_later_delivery_of_the_same_incident_renders_the_same_finding_id() -> None:
    early = SecurityHubSink(lambda _f: SecurityHubClient(None, ACCOUNT), clock=lambda: NOW)
    later = SecurityHubSink(
        lambda _f: SecurityHubClient(None, ACCOUNT),
        clock=lambda: NOW.replace(hour=9),
    )

    (first,) = early.render(raised()).request["Findings"]
    (second,) = later.render(raised()).request["Findings"]

    assert first["Id"] == second["Id"]
    assert first["CreatedAt"] == second["CreatedAt"]
    assert second["UpdatedAt"] > first["UpdatedAt"]


def test_the_finding_id_is_the_same_in_account_and_organisation_mode() -> None:
    account_mode = finding(key=EVENT_ID)
    organisation_mode = finding(key=f"{ACCOUNT}#{EVENT_ID}")

    assert finding_id(account_mode) == finding_id(organisation_mode)
    assert finding_id(account_mode) == f"trailwarden/{ACCOUNT}/ami-exposure/{EVENT_ID}"


def test_a_hostile_event_key_is_hashed_into_a_stable_id() -> None:
    f = finding(key="x\u202e" + "a" * 10_000)

    first, second = finding_id(f), finding_id(f)

    assert first == second
    assert first.startswith(f"trailwarden/{ACCOUNT}/ami-exposure/sha256-")
    assert len(first) < 120


def test_the_product_arn_is_in_the_partition_of_the_region() -> None:
    f = finding(region="cn-north-1")

    assert (
        product_arn(f) == f"arn:aws-cn:securityhub:cn-north-1:{ACCOUNT}:product/{ACCOUNT}/default"
    )


def test_hostile_strings_are_neutralised_and_cut_to_the_asff_limits() -> None:
    long_name = HOSTILE + "x" * 10_000
    f = finding(
        reason=long_name,
        resource_id=long_name,
        account_name=long_name,
        actor={"type": "IAMUser", "arn": long_name, "userAgent": long_name},
        plan=(PlannedAction("ec2:ModifyImageAttribute", "ami-1", long_name),),
    )
    message = messages.detected(f, "en", ZONE)
    message = replace(message, title=long_name)

    rendered = sink_with(None).render(Notice(message, f, "raised", "remediate"))

    (asff,) = rendered.request["Findings"]
    text = json.dumps(asff, ensure_ascii=False)
    for invisible in ("\u202e", "\u200b", "\ufeff", "\x07", "\x1b", "\u3164"):
        assert invisible not in text
    assert "evilgpj.exe" in asff["Title"]
    assert len(asff["Title"]) == LIMITS.title
    assert len(asff["Description"]) == LIMITS.text
    assert len(asff["Resources"][0]["Id"]) <= 512
    assert len(asff["Remediation"]["Recommendation"]["Text"]) <= 512
    assert len(text) < LIMITS.total
    valid("BatchImportFindings", rendered.request)


# --- import against moto ---------------------------------------------------------------


@pytest.fixture
def hub() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("securityhub", region_name=REGION)
        client.enable_security_hub()
        yield client


def test_a_raised_incident_is_imported_and_reads_back(hub: Any) -> None:
    sink = sink_with(hub)

    status = sink.deliver(sink.render(raised()))

    (found,) = hub.get_findings()["Findings"]
    assert status == "imported"
    assert found["Id"] == f"trailwarden/{ACCOUNT}/ami-exposure/{EVENT_ID}"
    assert found["AwsAccountId"] == ACCOUNT
    assert found["Severity"]["Label"] == "CRITICAL"


def test_a_retried_delivery_updates_the_finding_and_never_duplicates_it(hub: Any) -> None:
    sink = sink_with(hub)
    sink.deliver(sink.render(raised()))

    sink.deliver(sink.render(raised(finding(key=f"{ACCOUNT}#{EVENT_ID}"))))
    sink.deliver(sink.render(raised()))

    assert len(hub.get_findings()["Findings"]) == 1


def test_two_incidents_are_two_findings(hub: Any) -> None:
    sink = sink_with(hub)

    sink.deliver(sink.render(raised()))
    sink.deliver(sink.render(raised(finding(key="another-event", event_id="another-event"))))

    assert len(hub.get_findings()["Findings"]) == 2


# --- close with BatchUpdateFindings (moto has none: Stubber) -------------------------------


def stubbed() -> tuple[Any, Stubber]:
    client = boto3.client(
        "securityhub",
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    return client, Stubber(client)


@pytest.mark.parametrize(
    ("outcome", "status"),
    [
        ("remediated", "RESOLVED"),
        ("already-clean", "RESOLVED"),
        ("rejected", "NOTIFIED"),
        ("expired", "NOTIFIED"),
        ("failed", "NOTIFIED"),
        ("partially-remediated", "NOTIFIED"),
    ],
)
def test_a_closed_incident_sets_the_workflow_status_and_a_note(outcome: str, status: str) -> None:
    client, stub = stubbed()
    done = ("removed launch permission: public",) if outcome == "remediated" else ()
    notice = closed(outcome, done)
    title = messages.result(finding(), outcome, "en", ZONE).title
    note = f"{title}: {done[0]}" if done else title
    arn = f"arn:aws:securityhub:{REGION}:{ACCOUNT}:product/{ACCOUNT}/default"
    stub.add_response(
        "batch_update_findings",
        {"ProcessedFindings": [], "UnprocessedFindings": []},
        {
            "FindingIdentifiers": [
                {"Id": f"trailwarden/{ACCOUNT}/ami-exposure/{EVENT_ID}", "ProductArn": arn}
            ],
            "Workflow": {"Status": status},
            "Note": {"Text": note, "UpdatedBy": "trailwarden"},
        },
    )
    sink = sink_with(client)

    with stub:
        result = sink.deliver(sink.render(notice))

    assert result == "updated"
    stub.assert_no_pending_responses()


def test_an_unprocessed_update_fails_the_sink() -> None:
    client, stub = stubbed()
    f = finding()
    identifier = {"Id": finding_id(f), "ProductArn": product_arn(f)}
    stub.add_response(
        "batch_update_findings",
        {
            "ProcessedFindings": [],
            "UnprocessedFindings": [
                {
                    "FindingIdentifier": identifier,
                    "ErrorCode": "FindingNotFound",
                    "ErrorMessage": "x",
                }
            ],
        },
    )
    sink = sink_with(client)

    with stub, pytest.raises(NotificationFailed, match="FindingNotFound"):
        sink.deliver(sink.render(closed("remediated")))


def test_the_note_is_neutralised_and_cut_to_512_characters() -> None:
    done = (HOSTILE + "y" * 10_000, "second \u200b line")

    request = sink_with(None).render(closed("remediated", done)).request

    text = request["Note"]["Text"]
    assert len(text) == NOTE_TEXT_LIMIT
    assert "\u202e" not in text and "\u200b" not in text and "\x1b" not in text
    valid("BatchUpdateFindings", request)


# --- the default product ARN: only the finding's own account ------------------------------


def test_only_the_findings_own_account_may_import_it() -> None:
    f = finding(account=ACCOUNT)

    assert caller_may_import(ACCOUNT, f)
    assert not caller_may_import(OTHER_ACCOUNT, f)
    assert not caller_may_import("", f)
    assert not caller_may_import("", finding(account=""))


def test_a_client_of_another_account_is_refused_before_any_call() -> None:
    client, stub = stubbed()  # no response queued: any call would fail the stub
    sink = sink_with(client, account=OTHER_ACCOUNT)

    with stub, pytest.raises(NotificationFailed, match="may not write findings"):
        sink.deliver(sink.render(raised()))
    with stub, pytest.raises(NotificationFailed, match="may not write findings"):
        sink.deliver(sink.render(closed("remediated")))

    stub.assert_no_pending_responses()


# --- failures ---------------------------------------------------------------------------


def test_a_refused_import_fails_with_the_type_and_code_only() -> None:
    client, stub = stubbed()
    secret = "AKIAEXAMPLESECRETKEY"
    stub.add_client_error(
        "batch_import_findings",
        service_error_code="AccessDeniedException",
        service_message=f"User arn:aws:sts::{ACCOUNT}:assumed-role/x/{secret} is not authorized",
        http_status_code=403,
    )
    sink = sink_with(client)

    with stub, pytest.raises(NotificationFailed) as caught:
        sink.deliver(sink.render(raised()))

    assert "ClientError AccessDeniedException" in str(caught.value)
    assert secret not in str(caught.value)


def test_a_failed_finding_in_the_answer_fails_the_sink() -> None:
    client, stub = stubbed()
    stub.add_response(
        "batch_import_findings",
        {
            "FailedCount": 1,
            "SuccessCount": 0,
            "FailedFindings": [
                {"Id": "x", "ErrorCode": "InvalidInput", "ErrorMessage": "Finding is invalid"}
            ],
        },
    )
    sink = sink_with(client)

    with stub, pytest.raises(NotificationFailed, match="InvalidInput Finding is invalid"):
        sink.deliver(sink.render(raised()))


def test_an_unreachable_member_fails_the_sink_not_the_function() -> None:
    def unreachable(_f: Finding) -> SecurityHubClient:
        raise MemberUnreachable("cannot reach account")

    sink = SecurityHubSink(unreachable, clock=lambda: NOW)

    with pytest.raises(NotificationFailed, match="MemberUnreachable"):
        sink.deliver(sink.render(raised()))


class _Email:
    name = "email"
    limits = LIMITS
    tells_people = True

    def __init__(self) -> None:
        self.sent: list[Notice] = []

    def render(self, notice: Notice) -> Notice:
        return notice

    def deliver(self, rendered: Notice) -> str:
        self.sent.append(rendered)
        return "sent"


def test_security_hub_failing_never_blocks_the_other_sinks() -> None:
    client, stub = stubbed()
    stub.add_client_error("batch_import_findings", service_error_code="InternalException")
    down = SecurityHubSink(lambda _f: SecurityHubClient(client, ACCOUNT), clock=lambda: NOW)
    email = _Email()

    with stub:
        report = deliver_all(raised(), [email, down])

    assert set(report) == set(SINK_NAMES)
    assert report["email"] == "sent"
    assert report["securityhub"] == "failed: Security Hub: ClientError InternalException"
    assert len(email.sent) == 1


def test_a_connection_error_is_a_notification_failure() -> None:
    class Broken:
        def batch_import_findings(self, **_: Any) -> Any:
            raise EndpointConnectionError(endpoint_url="https://securityhub.example")

    sink = sink_with(Broken())

    with pytest.raises(NotificationFailed, match="EndpointConnectionError"):
        sink.deliver(sink.render(raised()))


def test_a_client_error_in_update_is_a_notification_failure() -> None:
    class Refusing:
        def batch_update_findings(self, **_: Any) -> Any:
            raise ClientError({"Error": {"Code": "InvalidInputException"}}, "BatchUpdateFindings")

    sink = sink_with(Refusing())

    with pytest.raises(NotificationFailed, match="InvalidInputException"):
        sink.deliver(sink.render(closed("failed")))


def imported_hub() -> SecurityHubSink:
    class Hub:
        def batch_import_findings(self, **_: Any) -> Any:
            return {"FailedCount": 0, "SuccessCount": 1, "FailedFindings": []}

    return sink_with(Hub())


def test_security_hub_alone_is_not_a_person_told_when_chat_and_email_failed() -> None:
    from trailwarden.notify.sinks import UnavailableSink

    failed = [UnavailableSink(n, f"{n} down") for n in ("email", "discord", "slack", "teams")]

    with pytest.raises(NotificationFailed, match="no sink that tells a person delivered"):
        deliver_all(raised(), [*failed, imported_hub()])


def test_security_hub_counts_when_it_is_the_only_sink_configured() -> None:
    report = deliver_all(raised(), [imported_hub()])

    assert report["securityhub"] == "imported"


def test_an_approval_request_told_only_to_security_hub_fails() -> None:
    with pytest.raises(NotificationFailed, match="no sink that tells a person delivered"):
        deliver_all(raised(), [imported_hub()], require_people=True)


def test_security_hub_declares_it_tells_nobody_and_every_other_sink_that_it_does() -> None:
    from trailwarden.notify.email import EmailSink
    from trailwarden.notify.embeds import DiscordSink
    from trailwarden.notify.slack import SlackSink
    from trailwarden.notify.teams import TeamsSink

    assert SecurityHubSink.tells_people is False
    assert all(s.tells_people for s in (EmailSink, DiscordSink, SlackSink, TeamsSink))


def test_two_workflows_matching_one_event_make_two_findings(hub: Any) -> None:
    sink = sink_with(hub)
    one, other = finding(), finding(workflow="snapshot-exposure")

    sink.deliver(sink.render(raised(one)))
    sink.deliver(sink.render(raised(other)))

    ids = {f["Id"] for f in hub.get_findings()["Findings"]}
    assert ids == {finding_id(one), finding_id(other)}
    assert finding_id(other) == f"trailwarden/{ACCOUNT}/snapshot-exposure/{EVENT_ID}"


def test_a_finding_without_a_region_fails_the_sink_before_any_call() -> None:
    class Refuses:
        def batch_import_findings(self, **_: Any) -> Any:
            raise AssertionError("no call with a malformed product ARN")

    sink = sink_with(Refuses())

    with pytest.raises(NotificationFailed, match="no region"):
        sink.deliver(sink.render(raised(finding(region=""))))
