"""The logging backstop across an organisation (logic/org_backstop.py and its state
machine): every account and region checked, an unreachable member one alert, never a stop."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError
from cfnlint.decode import cfn_yaml
from moto import mock_aws

from handlers.org_backstop import shared_session_clients
from tests.conftest import REPO
from trailwarden.dal.member_clients import MemberRoles
from trailwarden.logic.org_backstop import (
    OrganizationBackstop,
    OrgBackstopSettings,
    account_batches,
    start_execution,
)
from trailwarden.models.events import parse_envelope
from trailwarden.models.findings import Outcome
from trailwarden.models.settings import DetectionSettings
from trailwarden.workflows.cloudtrail_tamper import detection
from trailwarden_local.org_backstop_sim import (
    HUB_REGION,
    REGIONS_17,
    FakeOrganization,
    run_state_machine,
)

SCHEDULED = {"scheduledTime": "2026-12-05T00:15:00Z"}
MACHINE = "arn:aws:states:us-east-1:111111111111:stateMachine:tamper"


def backstop(org: FakeOrganization, **settings: Any) -> OrganizationBackstop:
    sfn = org.hub_clients("stepfunctions")
    return OrganizationBackstop(
        OrgBackstopSettings(hub_region=HUB_REGION, **settings),
        clients_for=org.clients_for,
        start_workflow=lambda event: start_execution(sfn, MACHINE, event),
    )


def started(org: FakeOrganization, kind: str) -> list[dict[str, Any]]:
    return [e for e in org.started.values() if e["detail-type"] == kind]


def test_an_unreachable_member_gives_one_alert_and_the_others_are_still_checked() -> None:
    org = FakeOrganization(4)
    (lost, *others) = org.ids
    org.unreachable = frozenset({lost})

    result = backstop(org).run({"accounts": org.ids, **SCHEDULED})

    (alert,) = started(org, detection.MEMBER_UNREACHABLE)
    assert alert["account"] == lost
    assert result["unreachable"] == [lost]
    assert result["regionsChecked"] == len(others) * len(REGIONS_17)
    assert org.calls["cloudtrail:DescribeTrails"] == len(others) * len(REGIONS_17)
    assert started(org, detection.TRAIL_NOT_LOGGING) == []
    # The alert the workflow sends says which account and why.
    found = detection.detect_envelope(parse_envelope(alert), DetectionSettings())
    assert found.outcome is Outcome.ALERT
    assert f"cannot reach account {lost}: role missing" in found.reason


class DeniedInSomeRegions(FakeOrganization):
    """One account whose role (or an SCP) denies DescribeTrails in two regions."""

    denied_regions = ("eu-west-1", "ap-south-1")

    def clients_for(self, account: str, session: str) -> Any:
        inner = super().clients_for(account, session)
        denied = account == self.ids[0]

        class Denying:
            def __init__(self, region: str) -> None:
                self.region = region

            def describe_trails(self, **_: Any) -> Any:
                raise ClientError(
                    {"Error": {"Code": "AccessDenied", "Message": "denied"}}, "DescribeTrails"
                )

        def client(service: str, region: str | None = None) -> Any:
            if denied and service == "cloudtrail" and region in self.denied_regions:
                return Denying(region)
            return inner(service, region)

        return client


def test_a_member_denying_calls_in_several_regions_gives_one_alert_naming_them() -> None:
    org = DeniedInSomeRegions(2)

    result = backstop(org).run({"accounts": org.ids, **SCHEDULED})

    (alert,) = started(org, detection.MEMBER_UNREACHABLE)
    assert alert["account"] == org.ids[0]
    assert sorted(alert["detail"]["regions"]) == sorted(org.denied_regions)
    assert "denies DescribeTrails" in alert["detail"]["cause"]
    assert result["unreachable"] == [org.ids[0]]
    assert result["regionsChecked"] == 2 * len(REGIONS_17) - len(org.denied_regions)


def test_a_retried_run_in_the_same_period_alerts_an_unreachable_member_once() -> None:
    org = FakeOrganization(2, unreachable=frozenset({"200000000001"}))

    first = backstop(org).run({"accounts": org.ids, **SCHEDULED})
    again = backstop(org).run({"accounts": org.ids, "scheduledTime": "2026-12-05T00:20:00Z"})

    assert len(started(org, detection.MEMBER_UNREACHABLE)) == 1
    assert first["executions"][0]["alreadyStarted"] is False
    assert again["executions"][0]["alreadyStarted"] is True


def test_a_trail_found_not_logging_starts_the_workflow_in_its_account_once() -> None:
    # A multi-region trail is seen in all 17 regions: one status read, one execution.
    org = FakeOrganization(3, stopped=frozenset({"200000000002"}))

    backstop(org).run({"accounts": org.ids, **SCHEDULED})

    (event,) = started(org, detection.TRAIL_NOT_LOGGING)
    assert event["account"] == "200000000002"
    assert event["detail"]["trailArn"] == org.trail_arn("200000000002")
    assert org.calls["cloudtrail:GetTrailStatus"] == 3


def test_the_accounts_step_batches_every_active_account_but_the_excluded() -> None:
    org = FakeOrganization(45)
    excluded = frozenset(org.ids[:5])
    settings = OrgBackstopSettings(
        hub_region=HUB_REGION, batch_size=10, excluded_account_ids=excluded
    )

    result = account_batches(org.hub_clients("organizations"), settings, SCHEDULED)

    assert [len(b) for b in result["batches"]] == [10, 10, 10, 10]
    assert {a for b in result["batches"] for a in b} == set(org.ids) - excluded
    assert result["excluded"] == 5
    assert result["scheduledTime"] == SCHEDULED["scheduledTime"]


def test_the_state_machine_validates_and_checks_every_account_despite_an_unreachable_one() -> None:
    # moto validates the definition on create and runs it (Map over the batches).
    org = FakeOrganization(25, unreachable=frozenset({"200000000013"}))

    result = run_state_machine(org, batch_size=10, timeout=60)

    assert result.status == "SUCCEEDED"
    batches = result.output["results"]
    assert [b["accounts"] for b in batches] == [10, 10, 5]
    assert [a for b in batches for a in b["unreachable"]] == ["200000000013"]
    assert sum(b["regionsChecked"] for b in batches) == 24 * len(REGIONS_17)
    assert len(started(org, detection.MEMBER_UNREACHABLE)) == 1


def test_the_template_substitutes_every_placeholder_of_the_backstop_definition() -> None:
    template = cfn_yaml.loads((REPO / "template.yaml").read_text(encoding="utf-8"))
    machine = template["Resources"]["OrgBackstopStateMachine"]
    asl = (REPO / machine["Properties"]["DefinitionUri"]).read_text(encoding="utf-8")

    placeholders = set(re.findall(r"\$\{(\w+)\}", asl))

    assert placeholders == set(machine["Properties"]["DefinitionSubstitutions"])
    assert machine["Condition"] == "OrganizationMode"
    assert json.loads(asl)["TimeoutSeconds"] < 300  # a run ends inside its period


def test_the_backstop_assumes_each_member_role_once_for_every_region() -> None:
    asked: list[str] = []
    built: list[tuple[str, str | None]] = []

    class Sts:
        def assume_role(self, **request: Any) -> dict[str, Any]:
            return {
                "Credentials": {
                    "AccessKeyId": "a",
                    "SecretAccessKey": "b",
                    "SessionToken": "c",
                    "Expiration": datetime.now(UTC) + timedelta(hours=1),
                }
            }

    def sts(region: str) -> Sts:
        asked.append(region)
        return Sts()

    def client(service: str, region: str | None = None, **_: Any) -> str:
        built.append((service, region))
        return f"{service}@{region}"

    roles = MemberRoles("trailwarden-member", "ext-id", sts=sts, client=client)
    factory = roles.factory(
        "210987654321", workflow="backstop", event_id="t", sts_region=HUB_REGION
    )

    answers = [factory("cloudtrail", region) for region in REGIONS_17]

    assert asked == [HUB_REGION]  # one AssumeRole, through the hub region's endpoint
    assert answers == [f"cloudtrail@{region}" for region in REGIONS_17]
    assert len(built) == len(REGIONS_17)


def test_member_clients_of_the_shared_session_carry_the_assumed_credentials() -> None:
    make = shared_session_clients()
    creds = {"aws_access_key_id": "AKIAX", "aws_secret_access_key": "s", "aws_session_token": "t"}

    with mock_aws():
        cloudtrail = make("cloudtrail", "eu-west-1", credentials=creds)
        trails = cloudtrail.describe_trails(includeShadowTrails=True)["trailList"]

    assert trails == []
    assert cloudtrail.meta.region_name == "eu-west-1"
    assert cloudtrail._request_signer._credentials.access_key == "AKIAX"


class BrokenAccount(FakeOrganization):
    """An account whose reads fail with an error that is no unreachable member."""

    def clients_for(self, account: str, session: str) -> Any:
        inner = super().clients_for(account, session)

        def client(service: str, region: str | None = None) -> Any:
            if account == self.ids[0] and service == "ec2":
                raise RuntimeError("unexpected failure")
            return inner(service, region)

        return client


def test_a_batch_that_fails_is_caught_and_the_other_batches_are_still_checked() -> None:
    org = BrokenAccount(15)

    result = run_state_machine(org, batch_size=10, timeout=60)

    assert result.status == "SUCCEEDED"
    failed, checked = result.output["results"]
    assert failed["failed"] is True
    assert failed["error"] == "RuntimeError"
    assert failed["accounts"] == org.ids[:10]
    assert checked["accounts"] == 5
    assert checked["regionsChecked"] == 5 * len(REGIONS_17)


def test_a_region_denied_by_an_scp_hides_no_stopped_trail_of_the_other_regions() -> None:
    org = DeniedInSomeRegions(2, stopped=frozenset({"200000000000"}))
    assert org.ids[0] == "200000000000"  # the denying account has the stopped trail

    backstop(org).run({"accounts": org.ids, **SCHEDULED})

    (alert,) = started(org, detection.MEMBER_UNREACHABLE)
    (stopped,) = started(org, detection.TRAIL_NOT_LOGGING)
    assert alert["account"] == stopped["account"] == org.ids[0]


class WithOrganizationTrailShadow(FakeOrganization):
    """Each member also sees the management account's organisation trail (a shadow
    whose ARN names the management account); the member role may not read its status."""

    management = "100000000000"

    def clients_for(self, account: str, session: str) -> Any:
        inner = super().clients_for(account, session)
        org = self

        class WithShadow:
            def __init__(self, trail_client: Any) -> None:
                self.inner = trail_client

            def describe_trails(self, **kwargs: Any) -> Any:
                listed = self.inner.describe_trails(**kwargs)
                shadow = {
                    "Name": "org-trail",
                    "TrailARN": f"arn:aws:cloudtrail:{HUB_REGION}:{org.management}:trail/org-trail",
                    "HomeRegion": HUB_REGION,
                    "IsMultiRegionTrail": True,
                }
                return {"trailList": [*listed["trailList"], shadow]}

            def get_trail_status(self, Name: str) -> Any:  # noqa: N803 - boto3's
                if org.management in Name:
                    raise ClientError(
                        {"Error": {"Code": "AccessDenied", "Message": "not yours"}},
                        "GetTrailStatus",
                    )
                return self.inner.get_trail_status(Name=Name)

        def client(service: str, region: str | None = None) -> Any:
            made = inner(service, region)
            return WithShadow(made) if service == "cloudtrail" else made

        return client


def test_a_shadow_of_the_organisation_trail_is_not_read_in_a_member_nor_an_unreachable_member() -> (
    None
):
    org = WithOrganizationTrailShadow(3, stopped=frozenset({"200000000001"}))

    result = backstop(org).run({"accounts": org.ids, **SCHEDULED})

    assert result["unreachable"] == []
    assert started(org, detection.MEMBER_UNREACHABLE) == []
    (stopped,) = started(org, detection.TRAIL_NOT_LOGGING)
    assert stopped["account"] == "200000000001"
