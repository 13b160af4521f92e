"""ec2-keypair: our AWS Config custom rule found an EC2 instance launched without a key
pair (alert only). The rule and its evaluation function are in this unit's template.yaml
(created only with CreateKeyPairConfigRule=true)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from trailwarden.models.modes import Mode
from trailwarden.workflows.declaration import (
    Declaration,
    FunctionSpec,
    ModeParameter,
    Rule,
    Text,
    UnitParameter,
    ref,
)

if TYPE_CHECKING:
    from trailwarden.workflows.declaration import Workflow

DECLARATION = Declaration(
    id="ec2-keypair",
    title="EC2 instances launched without a key pair (AWS Config custom rule)",
    mode=ModeParameter(
        "Ec2KeyPairMode",
        Mode.ALERT,
        "ec2-keypair: alert when the Config rule KeyPairConfigRuleName finds an instance "
        "without a key pair; off ignores its events (and creates no Config rule, whatever "
        "CreateKeyPairConfigRule says).",
    ),
    rules=(
        Rule(
            "KeyPairRuleNonCompliant",
            source=("aws.config",),
            detail_type="Config Rules Compliance Change",
            detail={
                "configRuleName": [ref("KeyPairConfigRuleName")],  # other rules never match
                "resourceType": ["AWS::EC2::Instance"],
                # COMPLIANT / NOT_APPLICABLE: nothing to say
                "newEvaluationResult": {"complianceType": ["NON_COMPLIANT"]},
            },
            target="alert",
        ),
    ),
    alert=FunctionSpec(
        "ec2-keypair - alert when the key-pair Config rule reports NON_COMPLIANT",
        reads=("KeyPairConfigRuleName",),
    ),
    parameters=(
        UnitParameter("KeyPairConfigRuleName", "KEY_PAIR_CONFIG_RULE_NAME", "AWS Config"),
        UnitParameter("CreateKeyPairConfigRule", "", "AWS Config"),
    ),
    facts={
        "instanceId": Text("Instance", "인스턴스"),
        "instanceName": Text("Name tag", "Name 태그"),
        "instanceState": Text("Instance state", "인스턴스 상태"),
        "privateIpAddress": Text("Private IP", "사설 IP"),
        "configRuleName": Text("Config rule", "Config 규칙"),
        "complianceType": Text("Compliance", "준수 상태"),
        "previousComplianceType": Text("Previously", "이전 상태"),
        "annotation": Text("Config says", "Config 설명"),
    },
    what={
        "Config Rules Compliance Change": Text(
            "EC2 instance without a key pair", "키 페어 없는 EC2 인스턴스"
        )
    },
)


def load() -> Workflow:
    from trailwarden.dal import enrichment
    from trailwarden.workflows.declaration import Workflow
    from trailwarden.workflows.ec2_keypair import detection

    return Workflow(
        DECLARATION,
        triggers=detection.TRIGGERS,
        detect=detection.detect,
        detect_envelope=detection.detect_envelope,
        envelope_triggers=detection.ENVELOPE_TRIGGERS,
        enrich=enrichment.enrich_instance,
        enrich_grants=enrichment.INSTANCE_LOOKUP_GRANTS,
    )
