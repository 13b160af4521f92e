"""cloudtrail-tamper detection: stop/delete/weaken, many selector shapes, failed and own calls,
and the scheduled backstop's synthetic events."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.conftest import load_event
from trailwarden.logic.decide import decide
from trailwarden.models.events import parse_envelope
from trailwarden.models.findings import Mode, Outcome, Severity, Verdict
from trailwarden.models.settings import DetectionSettings
from trailwarden.workflows.cloudtrail_tamper import detection as cloudtrail_tamper
from trailwarden.workflows.registry import BY_ID

CLOUDTRAIL_TAMPER = "cloudtrail-tamper"

OWN_ROLE = "arn:aws:iam::123456789012:role/trailwarden-CloudTrailTamperRemediateFunctionRole-X"
SETTINGS = DetectionSettings(own_role_arns=frozenset({OWN_ROLE}))
TRAIL = "management-events"
TRAIL_ARN = "arn:aws:cloudtrail:us-east-1:123456789012:trail/management-events"


def call(event_name: str, request: Any, **detail_changes: Any) -> dict[str, Any]:
    event = copy.deepcopy(load_event("cloudtrail-tamper/stop-logging-by-name.json"))
    event["detail"]["eventName"] = event_name
    event["detail"]["requestParameters"] = request
    event["detail"].update(detail_changes)
    return event


def detect(raw: dict[str, Any], settings: DetectionSettings = SETTINGS) -> Any:
    return decide(raw, BY_ID[CLOUDTRAIL_TAMPER], settings).detection


# ------------------------------------------------------------------ StopLogging / StartLogging


@pytest.mark.parametrize(
    ("name", "resource", "trail", "trail_arn"),
    [
        pytest.param(TRAIL, TRAIL, TRAIL, "", id="by-name"),
        pytest.param(TRAIL_ARN, TRAIL_ARN, TRAIL, TRAIL_ARN, id="by-arn"),
        pytest.param(
            "arn:aws-cn:cloudtrail:cn-north-1:123456789012:trail/china",
            "arn:aws-cn:cloudtrail:cn-north-1:123456789012:trail/china",
            "china",
            "arn:aws-cn:cloudtrail:cn-north-1:123456789012:trail/china",
            id="by-arn-other-partition",
        ),
    ],
)
def test_stopped_trail_is_acted_on_by_name_or_arn(
    name: str, resource: str, trail: str, trail_arn: str
) -> None:
    detection = detect(call("StopLogging", {"name": name}))

    assert detection.outcome is Outcome.ACT
    assert detection.severity is Severity.CRITICAL
    assert detection.resource_id == resource
    assert detection.facts["trail"] == trail
    assert detection.facts["trailArn"] == trail_arn


def test_arn_region_is_the_trail_home_region() -> None:
    assert cloudtrail_tamper.arn_region(TRAIL_ARN) == "us-east-1"
    assert cloudtrail_tamper.arn_region(TRAIL) == ""


@pytest.mark.parametrize(
    "request_parameters",
    [None, {}, {"name": ""}, {"name": 12}],
    ids=["null", "empty", "blank-name", "non-string-name"],
)
def test_stop_logging_without_a_trail_name_is_ignored(request_parameters: Any) -> None:
    assert detect(call("StopLogging", request_parameters)).outcome is Outcome.IGNORE


def test_start_logging_does_nothing() -> None:
    detection = detect(load_event("cloudtrail-tamper/start-logging.json"))

    assert detection.outcome is Outcome.IGNORE


# ------------------------------------------------------------------ failed and own calls


def test_failed_stop_logging_is_an_info_alert_never_an_action() -> None:
    detection = detect(load_event("cloudtrail-tamper/stop-logging-failed.json"))

    assert detection.outcome is Outcome.ALERT
    assert detection.severity is Severity.INFO
    assert detection.facts["failedAttempt"] is True
    assert detection.facts["errorCode"] == "AccessDenied"
    assert detection.workflow == CLOUDTRAIL_TAMPER


@pytest.mark.parametrize("mode", list(Mode))
def test_failed_stop_logging_is_never_remediated_whatever_the_mode(mode: Mode) -> None:
    settings = DetectionSettings(modes={CLOUDTRAIL_TAMPER: mode})
    raw = load_event("cloudtrail-tamper/stop-logging-failed.json")

    verdict = decide(raw, BY_ID[CLOUDTRAIL_TAMPER], settings).verdict

    assert verdict in (Verdict.ALERT, Verdict.IGNORE)


def test_failed_strengthening_update_is_ignored() -> None:
    raw = call("UpdateTrail", {"name": TRAIL, "enableLogFileValidation": True})
    raw["detail"]["errorCode"] = "AccessDenied"

    assert detect(raw).outcome is Outcome.IGNORE


def test_failed_weakening_update_is_an_info_alert() -> None:
    raw = call("UpdateTrail", {"name": TRAIL, "isMultiRegionTrail": False})
    raw["detail"]["errorCode"] = "InvalidHomeRegionException"

    detection = detect(raw)

    assert (detection.outcome, detection.severity) == (Outcome.ALERT, Severity.INFO)


def test_own_role_call_is_ignored_but_same_name_other_role_is_not() -> None:
    own = load_event("cloudtrail-tamper/stop-logging-own-role.json")
    own["detail"]["userIdentity"]["sessionContext"]["sessionIssuer"]["arn"] = OWN_ROLE
    impostor = copy.deepcopy(own)
    impostor["detail"]["userIdentity"]["sessionContext"]["sessionIssuer"]["arn"] = (
        OWN_ROLE + "-impostor"
    )

    assert detect(own).outcome is Outcome.IGNORE
    assert detect(impostor).outcome is Outcome.ACT


# ------------------------------------------------------------------ DeleteTrail


def test_deleted_trail_is_a_critical_alert_saying_who() -> None:
    detection = detect(load_event("cloudtrail-tamper/delete-trail.json"))

    assert (detection.outcome, detection.severity) == (Outcome.ALERT, Severity.CRITICAL)
    assert "arn:aws:sts::123456789012:assumed-role/ops-admin/mallory" in detection.reason
    assert detection.facts["onlyLoggingTrail"] == "unknown"  # a live fact, read by enrich


# ------------------------------------------------------------------ UpdateTrail


@pytest.mark.parametrize(
    ("request_parameters", "outcome", "severity"),
    [
        pytest.param(
            {"isMultiRegionTrail": False}, Outcome.ALERT, Severity.CRITICAL, id="single-region"
        ),
        pytest.param(
            {"includeGlobalServiceEvents": False}, Outcome.ALERT, Severity.CRITICAL, id="no-global"
        ),
        pytest.param(
            {"enableLogFileValidation": False}, Outcome.ALERT, Severity.CRITICAL, id="no-validation"
        ),
        pytest.param(
            {"enableLogFileValidation": "false"},
            Outcome.ALERT,
            Severity.CRITICAL,
            id="no-validation-as-string",
        ),
        pytest.param(
            {"isOrganizationTrail": False}, Outcome.ALERT, Severity.CRITICAL, id="not-org-trail"
        ),
        pytest.param(
            {"s3BucketName": "elsewhere"}, Outcome.ALERT, Severity.CRITICAL, id="bucket-changed"
        ),
        pytest.param({"kmsKeyId": ""}, Outcome.ALERT, Severity.CRITICAL, id="kms-removed"),
        pytest.param(
            {"kmsKeyId": "arn:aws:kms:us-east-1:999999999999:key/x"},
            Outcome.ALERT,
            Severity.HIGH,
            id="kms-changed",
        ),
        pytest.param(
            {"cloudWatchLogsLogGroupArn": ""}, Outcome.ALERT, Severity.HIGH, id="cw-logs-removed"
        ),
        pytest.param(
            {"isMultiRegionTrail": True, "enableLogFileValidation": True},
            Outcome.IGNORE,
            Severity.INFO,
            id="strengthening",
        ),
        pytest.param({"s3KeyPrefix": "logs/"}, Outcome.IGNORE, Severity.INFO, id="prefix-only"),
        pytest.param({}, Outcome.IGNORE, Severity.INFO, id="nothing-changed"),
        pytest.param(
            {"includeGlobalServiceEvents": True, "s3BucketName": "elsewhere"},
            Outcome.ALERT,
            Severity.CRITICAL,
            id="strengthen-and-redirect",
        ),
    ],
)
def test_update_trail_alerts_only_when_it_weakens_logging(
    request_parameters: dict[str, Any], outcome: Outcome, severity: Severity
) -> None:
    detection = detect(call("UpdateTrail", {"name": TRAIL, **request_parameters}))

    assert (detection.outcome, detection.severity) == (outcome, severity)


def test_weakening_update_lists_every_weakening() -> None:
    detection = detect(load_event("cloudtrail-tamper/update-trail-weakening.json"))

    assert detection.facts["weakenings"] == [
        "multi-region logging turned off",
        "log-file validation turned off",
    ]


# ------------------------------------------------------------------ PutEventSelectors

MGMT = {"field": "eventCategory", "equals": ["Management"]}
DATA = {"field": "eventCategory", "equals": ["Data"]}
S3_OBJECTS = {"field": "resources.type", "equals": ["AWS::S3::Object"]}


def advanced(*selectors: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "advancedEventSelectors": [
            {"name": f"s{i}", "fieldSelectors": fields} for i, fields in enumerate(selectors)
        ]
    }


def basic(*selectors: dict[str, Any]) -> dict[str, Any]:
    return {"eventSelectors": list(selectors)}


SELECTOR_CASES = [
    # basic selectors: IncludeManagementEvents defaults to true, ReadWriteType to All
    ("basic-default-all", basic({"readWriteType": "All", "includeManagementEvents": True}), None),
    ("basic-fields-omitted", basic({}), None),
    (
        "basic-management-excluded",
        basic({"readWriteType": "All", "includeManagementEvents": False}),
        Severity.CRITICAL,
    ),
    ("basic-empty-list", basic(), Severity.CRITICAL),
    (
        "basic-read-only",
        basic({"readWriteType": "ReadOnly", "includeManagementEvents": True}),
        Severity.CRITICAL,
    ),
    (
        "basic-write-only",
        basic({"readWriteType": "WriteOnly", "includeManagementEvents": True}),
        Severity.HIGH,
    ),
    (
        "basic-read-plus-write-selectors",
        basic({"readWriteType": "ReadOnly"}, {"readWriteType": "WriteOnly"}),
        None,
    ),
    (
        "basic-data-only-plus-management-selector",
        basic(
            {"includeManagementEvents": False, "dataResources": [{"type": "AWS::S3::Object"}]},
            {"readWriteType": "All", "includeManagementEvents": True},
        ),
        None,
    ),
    (
        "basic-kms-excluded",
        basic({"readWriteType": "All", "excludeManagementEventSources": ["kms.amazonaws.com"]}),
        Severity.HIGH,
    ),
    (
        "basic-kms-excluded-in-one-selector-only",
        basic(
            {"readWriteType": "All", "excludeManagementEventSources": ["kms.amazonaws.com"]},
            {"readWriteType": "All"},
        ),
        None,
    ),
    (
        "basic-items-wrapper",
        {"eventSelectors": {"items": [{"readWriteType": "All", "includeManagementEvents": False}]}},
        Severity.CRITICAL,
    ),
    # advanced selectors: management needs a selector with eventCategory = Management
    ("advanced-management-only", advanced([MGMT]), None),
    ("advanced-management-plus-data", advanced([MGMT], [DATA, S3_OBJECTS]), None),
    ("advanced-data-only", advanced([DATA, S3_OBJECTS]), Severity.CRITICAL),
    ("advanced-empty", advanced(), Severity.CRITICAL),
    (
        "advanced-management-read-only",
        advanced([MGMT, {"field": "readOnly", "equals": ["true"]}]),
        Severity.CRITICAL,
    ),
    (
        "advanced-management-write-only",
        advanced([MGMT, {"field": "readOnly", "equals": ["false"]}]),
        Severity.HIGH,
    ),
    (
        "advanced-read-and-write-selectors",
        advanced(
            [MGMT, {"field": "readOnly", "equals": ["true"]}],
            [MGMT, {"field": "readOnly", "equals": ["false"]}],
        ),
        None,
    ),
    (
        "advanced-excludes-management-event-source",
        advanced([MGMT, {"field": "eventSource", "notEquals": ["kms.amazonaws.com"]}]),
        Severity.CRITICAL,
    ),
    (
        "advanced-excludes-an-identity",
        advanced([MGMT, {"field": "userIdentity.arn", "notStartsWith": ["arn:aws:sts::1:x"]}]),
        Severity.CRITICAL,
    ),
    (
        "advanced-restricted-plus-unrestricted",
        advanced([MGMT, {"field": "readOnly", "equals": ["true"]}], [MGMT]),
        None,
    ),
    (
        "advanced-category-not-equals-management",
        advanced([{"field": "eventCategory", "notEquals": ["Management"]}]),
        Severity.CRITICAL,
    ),
    (
        "advanced-items-wrapper",
        {"advancedEventSelectors": {"items": [{"fieldSelectors": {"items": [DATA]}}]}},
        Severity.CRITICAL,
    ),
]


@pytest.mark.parametrize(
    ("request_parameters", "severity"),
    [pytest.param(r, s, id=i) for i, r, s in SELECTOR_CASES],
)
def test_event_selectors_alert_when_management_events_are_dropped_or_narrowed(
    request_parameters: dict[str, Any], severity: Severity | None
) -> None:
    detection = detect(call("PutEventSelectors", {"trailName": TRAIL, **request_parameters}))

    if severity is None:
        assert detection.outcome is Outcome.IGNORE, detection.reason
    else:
        assert (detection.outcome, detection.severity) == (Outcome.ALERT, severity)
        assert detection.resource_id == TRAIL


def test_selectors_without_any_selector_are_ignored() -> None:
    assert detect(call("PutEventSelectors", {"trailName": TRAIL})).outcome is Outcome.IGNORE


def test_advanced_selectors_dropping_management_say_so() -> None:
    raw = load_event("cloudtrail-tamper/put-event-selectors-advanced-no-management.json")

    detection = detect(raw)

    assert detection.facts["weakenings"] == ["advanced event selectors log no management events"]


# ------------------------------------------------------------------ the backstop's events


def backstop_event(detail_type: str, **detail: Any) -> Any:
    raw = copy.deepcopy(load_event("cloudtrail-tamper/backstop-trail-not-logging.json"))
    raw["detail-type"] = detail_type
    raw["detail"].update(detail)
    return parse_envelope(raw)


def test_trail_found_not_logging_is_acted_on_by_arn() -> None:
    detection = cloudtrail_tamper.detect_envelope(
        backstop_event("Trail Not Logging"), DetectionSettings()
    )

    assert detection.outcome is Outcome.ACT
    assert detection.resource_id == TRAIL_ARN
    assert detection.facts["foundBy"] == "backstop"


@pytest.mark.parametrize(
    ("detail_type", "outcome"),
    [
        ("Watched Trail Missing", Outcome.ALERT),
        ("No Logging Trail", Outcome.ALERT),
        ("Something Else", Outcome.IGNORE),
    ],
)
def test_other_backstop_findings(detail_type: str, outcome: Outcome) -> None:
    detection = cloudtrail_tamper.detect_envelope(backstop_event(detail_type), DetectionSettings())

    assert detection.outcome is outcome


def test_backstop_shaped_event_from_another_source_is_ignored() -> None:
    raw = copy.deepcopy(load_event("cloudtrail-tamper/backstop-trail-not-logging.json"))
    raw["source"] = "someone.else"

    detection = cloudtrail_tamper.detect_envelope(parse_envelope(raw), DetectionSettings())

    assert detection.outcome is Outcome.IGNORE
