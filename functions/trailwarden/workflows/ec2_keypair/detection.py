"""ec2-keypair: our AWS Config rule found an EC2 instance without a key pair (alert only).

The template creates a custom Config rule (``KeyPairConfigRuleName``) evaluated by
:mod:`trailwarden.workflows.ec2_keypair.config_rule`. When an instance's result changes, AWS
Config puts a "Config Rules Compliance Change" event on the default bus; this
detection alerts on our rule's NON_COMPLIANT results only. Other rules, COMPLIANT and
NOT_APPLICABLE transitions are ignored (the rule pattern already drops them).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from trailwarden.models.findings import Detection, Outcome, Severity
from trailwarden.workflows.common import text_of
from trailwarden.workflows.ec2_keypair import DECLARATION

if TYPE_CHECKING:
    from trailwarden.models.events import CloudTrailEvent, Envelope
    from trailwarden.models.settings import DetectionSettings

WORKFLOW = DECLARATION.id
TRIGGERS: frozenset[tuple[str, str]] = frozenset()  # no CloudTrail call triggers it
CONFIG_SOURCE = "aws.config"
COMPLIANCE_CHANGE = "Config Rules Compliance Change"
ENVELOPE_TRIGGERS = frozenset({(CONFIG_SOURCE, COMPLIANCE_CHANGE)})
RESOURCE_TYPE = "AWS::EC2::Instance"
NON_COMPLIANT = "NON_COMPLIANT"


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _ignore(reason: str) -> Detection:
    return Detection(WORKFLOW, Outcome.IGNORE, Severity.INFO, reason)


def detect(event: CloudTrailEvent, settings: DetectionSettings) -> Detection:
    """CloudTrail calls never trigger this workflow: Config's verdict does."""
    return _ignore(f"{event.event_name} is an API call, not an AWS Config compliance change")


def detect_envelope(envelope: Envelope, settings: DetectionSettings) -> Detection:
    if (envelope.source, envelope.detail_type) not in ENVELOPE_TRIGGERS:
        return _ignore(f"{envelope.source} {envelope.detail_type!r} is not a compliance change")
    detail = envelope.detail
    new = _mapping(detail.get("newEvaluationResult"))
    qualifier = _mapping(
        _mapping(new.get("evaluationResultIdentifier")).get("evaluationResultQualifier")
    )
    rule = text_of(detail.get("configRuleName")) or text_of(qualifier.get("configRuleName"))
    if not settings.key_pair_config_rule_name or rule != settings.key_pair_config_rule_name:
        return _ignore(f"Config rule {rule or '?'} is not the key-pair rule")
    resource_type = text_of(detail.get("resourceType")) or text_of(qualifier.get("resourceType"))
    resource_id = text_of(detail.get("resourceId")) or text_of(qualifier.get("resourceId"))
    if resource_type != RESOURCE_TYPE or not resource_id:
        return _ignore(f"resource {resource_type or '?'} {resource_id} is not an EC2 instance")
    compliance = text_of(new.get("complianceType"))
    if compliance != NON_COMPLIANT:
        return _ignore(f"instance {resource_id} is now {compliance or 'unknown'}")
    facts: dict[str, Any] = {
        "instanceId": resource_id,
        "configRuleName": rule,
        "complianceType": compliance,
        "previousComplianceType": text_of(
            _mapping(detail.get("oldEvaluationResult")).get("complianceType")
        ),
        "annotation": text_of(new.get("annotation")),
        "resultRecordedTime": text_of(new.get("resultRecordedTime")),
    }
    return Detection(
        WORKFLOW,
        Outcome.ALERT,
        Severity.MEDIUM,
        f"EC2 instance {resource_id} has no key pair (AWS Config rule {rule}: NON_COMPLIANT)",
        RESOURCE_TYPE,
        resource_id,
        facts,
    )
