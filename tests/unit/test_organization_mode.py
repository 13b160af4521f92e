"""Organisation mode through the handlers, against moto's per-account backends.

moto's assume_role gives credentials whose calls reach the assumed account's backend
(trust policies are not evaluated: tests/contract checks them as data). Each member
resource is created and read back with that member's own credentials; the hub's backend
must hold none of it.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from handlers import alert as alert_handler
from handlers import assess as assess_handler
from handlers import remediate as remediate_handler
from handlers._notify_deps import NotifyDeps
from handlers._reach import Reach, build_reach
from tests.conftest import load_event
from tests.unit.fakes import member_client as member_client_in
from trailwarden.dal.clients import client_cache
from trailwarden.dal.incidents import IncidentStore
from trailwarden.dal.member_clients import MemberRoles
from trailwarden.dal.organization import Organization
from trailwarden.logic.alert import alert
from trailwarden.logic.decide import decide
from trailwarden.logic.report import Outcome, audit_record
from trailwarden.models.errors import MemberUnreachable
from trailwarden.models.findings import Finding
from trailwarden.models.settings import DetectionSettings, MemberSettings, NotifySettings
from trailwarden.notify import messages
from trailwarden.notify.email import EmailSink
from trailwarden.workflows.registry import BY_ID, load_workflow

if TYPE_CHECKING:
    from collections.abc import Iterator

HUB = "123456789012"  # moto's default account: the hub
REGION = "eu-west-1"  # the member's region (the hub functions' own is us-east-1)
ORG_ENV = {
    "DEPLOYMENT_MODE": "organization",
    "MEMBER_ROLE_NAME": "trailwarden-member",
    "MEMBER_EXTERNAL_ID": "ext-0123456789",
}


class Sns:
    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []

    def publish(self, **kwargs: Any) -> dict[str, str]:
        self.messages.append(kwargs)
        return {"MessageId": "1"}


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        yield


@pytest.fixture
def store(aws: None) -> IncidentStore:
    ddb = boto3.client("dynamodb", region_name="us-east-1")
    ddb.create_table(
        TableName="incidents",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return IncidentStore(ddb, "incidents", dedupe_ttl_seconds=48 * 3600)


@pytest.fixture
def member(aws: None) -> str:
    """A member account of the hub's organisation, named Prod."""
    orgs = boto3.client("organizations", region_name="us-east-1")
    orgs.create_organization(FeatureSet="ALL")
    created = orgs.create_account(AccountName="Prod", Email="prod@example.com")
    return str(created["CreateAccountStatus"]["AccountId"])


def as_member(account: str, service: str) -> Any:
    return member_client_in(account, service, REGION)


def public_image(ec2: Any) -> str:
    image_id: str = ec2.register_image(Name="golden", RootDeviceName="/dev/xvda")["ImageId"]
    ec2.modify_image_attribute(ImageId=image_id, LaunchPermission={"Add": [{"Group": "all"}]})
    return image_id


def made_public_in(account: str, image_id: str) -> dict[str, Any]:
    event = copy.deepcopy(load_event("ami-exposure/made-public.json"))
    event["account"], event["region"] = account, REGION
    detail = event["detail"]
    detail["recipientAccountId"], detail["awsRegion"] = account, REGION
    detail["userIdentity"]["accountId"] = account
    detail["requestParameters"]["imageId"] = image_id
    return event


def assess_deps(
    env: dict[str, str],
    store: IncidentStore,
    reach: Reach | None = None,
    workflow: str = "ami-exposure",
) -> assess_handler.Deps:
    clients = client_cache()
    return assess_handler.Deps(
        workflow=load_workflow(workflow),
        settings=DetectionSettings.from_env(env),
        store=store,
        clients=clients,
        reach=reach or build_reach(env, clients),
    )


def remediate_deps(env: dict[str, str], workflow: str = "ami-exposure") -> remediate_handler.Deps:
    clients = client_cache()
    return remediate_handler.Deps(
        workflow=load_workflow(workflow),
        settings=DetectionSettings.from_env(env),
        clients=clients,
        reach=build_reach(env, clients),
    )


def is_public(ec2: Any, image_id: str) -> bool:
    attrs = ec2.describe_image_attribute(ImageId=image_id, Attribute="launchPermission")
    return {"Group": "all"} in attrs["LaunchPermissions"]


def denying_roles() -> MemberRoles:
    sts = boto3.client("sts", region_name=REGION)
    stubber = Stubber(sts)
    stubber.add_client_error("assume_role", service_error_code="AccessDenied", http_status_code=403)
    stubber.activate()
    return MemberRoles("trailwarden-member", "ext", sts=lambda _region: sts)


def test_ami_made_public_in_a_member_is_made_private_in_that_member(
    member: str, store: IncidentStore
) -> None:
    member_ec2 = as_member(member, "ec2")
    image_id = public_image(member_ec2)
    event = made_public_in(member, image_id)

    finding = assess_handler.run(event, assess_deps(ORG_ENV, store))
    result = remediate_handler.run(finding, remediate_deps(ORG_ENV))

    assert finding["verdict"] == "remediate"
    assert finding["before"]["public"] is True
    assert result["status"] == "remediated"
    assert not is_public(member_ec2, image_id)
    hub_images = boto3.client("ec2", region_name=REGION).describe_images(Owners=["self"])
    assert image_id not in {i["ImageId"] for i in hub_images["Images"]}


def test_member_incidents_are_keyed_and_named_by_their_account(
    member: str, store: IncidentStore
) -> None:
    event = made_public_in(member, public_image(as_member(member, "ec2")))

    finding = assess_handler.run(event, assess_deps(ORG_ENV, store))

    assert finding["key"] == f"{member}#{event['detail']['eventID']}"
    assert finding["account"] == member
    assert finding["account_name"] == "Prod"
    record = audit_record(Finding.from_dict(finding), Outcome("alerted", {}, None), {})
    assert record["key"] == f"{member}#{event['detail']['eventID']}"
    assert record["resource"]["accountName"] == "Prod"
    text = messages.detected(Finding.from_dict(finding), "en", NotifySettings().zone)
    assert f"{member} (Prod)" in str(text)


def test_the_same_event_id_in_two_accounts_is_two_incidents(store: IncidentStore) -> None:
    settings = DetectionSettings(organization_mode=True)
    event = load_event("ami-exposure/made-public.json")
    other = copy.deepcopy(event)
    other["account"] = other["detail"]["recipientAccountId"] = "444455556666"

    keys = {decide(e, BY_ID["ami-exposure"], settings).context.key for e in (event, other)}

    assert keys == {
        f"{HUB}#{event['detail']['eventID']}",
        f"444455556666#{event['detail']['eventID']}",
    }


def test_account_mode_keys_stay_the_event_id() -> None:
    event = load_event("ami-exposure/made-public.json")

    decision = decide(event, BY_ID["ami-exposure"], DetectionSettings())

    assert decision.context.key == event["detail"]["eventID"]


def test_an_excluded_account_is_alerted_only_and_never_reached(
    member: str, store: IncidentStore
) -> None:
    member_ec2 = as_member(member, "ec2")
    image_id = public_image(member_ec2)
    env = {**ORG_ENV, "EXCLUDED_ACCOUNT_IDS": member}
    never = MemberRoles("trailwarden-member", "ext", sts=lambda _r: pytest.fail("assumed"))

    finding = assess_handler.run(
        made_public_in(member, image_id),
        assess_deps(env, store, Reach(plain=client_cache(), roles=never)),
    )

    assert finding["verdict"] == "alert"
    assert f"account {member} is in ExcludedAccountIds: alert only" in finding["reason"]
    assert finding["plan"] == []
    assert is_public(member_ec2, image_id)


def test_a_member_role_that_cannot_be_assumed_still_alerts_and_says_why(
    member: str, store: IncidentStore
) -> None:
    image_id = public_image(as_member(member, "ec2"))
    reach = Reach(plain=client_cache(), roles=denying_roles())

    finding = assess_handler.run(
        made_public_in(member, image_id), assess_deps(ORG_ENV, store, reach)
    )

    assert finding["verdict"] == "alert"
    assert f"cannot reach account {member} in {REGION}: role missing" in finding["reason"]


def test_remediating_in_an_unreachable_member_raises_the_typed_error(member: str) -> None:
    state = {
        "workflow": "ami-exposure",
        "verdict": "remediate",
        "event_id": "e1",
        "region": REGION,
        "account": member,
        "resource_id": "ami-0123456789abcdef0",
    }
    deps = remediate_deps(ORG_ENV)
    deps = remediate_handler.Deps(
        workflow=deps.workflow,
        settings=deps.settings,
        clients=deps.clients,
        reach=Reach(plain=deps.clients, roles=denying_roles()),
    )

    with pytest.raises(MemberUnreachable):
        remediate_handler.run(state, deps)


def test_a_failed_account_name_lookup_still_alerts(store: IncidentStore) -> None:
    class Broken:
        def describe_account(self, **_kwargs: Any) -> Any:
            raise RuntimeError("organizations is down")

    sns = Sns()

    result = alert(
        load_event("iam-user-change/create-user.json"),
        BY_ID["iam-user-change"],
        DetectionSettings(organization_mode=True),
        lambda *_a: None,
        store,
        NotifySettings(topic_arn="arn:aws:sns:us-east-1:123456789012:alerts"),
        [EmailSink(sns, "arn:aws:sns:us-east-1:123456789012:alerts")],
        account_name=Organization(Broken).account_name,
    )

    assert result["verdict"] == "alert"
    assert result["account_name"] == ""
    assert len(sns.messages) == 1


def test_account_names_are_cached(member: str) -> None:
    calls = []
    orgs = boto3.client("organizations", region_name="us-east-1")

    def client() -> Any:
        calls.append(1)
        return orgs

    organization = Organization(client)

    names = [organization.account_name(member), organization.account_name(member)]

    assert names == ["Prod", "Prod"]
    assert len(calls) == 1


def test_trusted_organization_trusts_every_active_account(member: str) -> None:
    settings = DetectionSettings.from_env(
        {**ORG_ENV, "TRUSTED_ACCOUNT_IDS": "organization,999988887777"}
    )
    organization = Organization(lambda: boto3.client("organizations", region_name="us-east-1"))

    widened = Reach(plain=client_cache(), organization=organization).detection_settings(settings)

    assert settings.trust_organization
    assert widened.trusted_account_ids == {"999988887777", member, HUB}


def test_trusted_organization_lists_every_page() -> None:
    class Paged:
        def get_paginator(self, _name: str) -> Any:
            class Paginator:
                def paginate(self) -> Any:
                    return [
                        {"Accounts": [{"Id": "111111111111", "Status": "ACTIVE"}]},
                        {"Accounts": [{"Id": "222222222222", "State": "ACTIVE"}]},
                        {"Accounts": [{"Id": "333333333333", "State": "SUSPENDED"}]},
                    ]

            return Paginator()

    assert Organization(Paged).account_ids() == {"111111111111", "222222222222"}


def test_an_unlisted_organization_trusts_only_the_listed_ids_with_a_warning() -> None:
    class Broken:
        def get_paginator(self, _name: str) -> Any:
            raise RuntimeError("denied")

    settings = DetectionSettings.from_env({**ORG_ENV, "TRUSTED_ACCOUNT_IDS": "organization"})
    reach = Reach(plain=client_cache(), organization=Organization(Broken))

    widened = reach.detection_settings(settings)

    assert widened.trusted_account_ids == frozenset()
    assert any("could not be listed" in w for w in widened.warnings)


def test_organization_in_trusted_accounts_means_nothing_in_account_mode() -> None:
    settings = DetectionSettings.from_env({"TRUSTED_ACCOUNT_IDS": "organization,999988887777"})

    assert not settings.trust_organization
    assert settings.trusted_account_ids == {"999988887777"}
    assert any("only with DeploymentMode=organization" in w for w in settings.warnings)


@pytest.mark.parametrize(
    ("env", "role_name", "external_id", "warning"),
    [
        (
            {"MEMBER_ROLE_NAME": "bad role/name"},
            "trailwarden-member",
            "ext-0123456789",
            "MemberRoleName",
        ),
        ({"MEMBER_EXTERNAL_ID": "has spaces in it"}, "trailwarden-member", "", "MemberExternalId"),
        ({"MEMBER_EXTERNAL_ID": ""}, "trailwarden-member", "", "MemberExternalId: empty"),
    ],
)
def test_careless_member_settings_never_crash(
    env: dict[str, str], role_name: str, external_id: str, warning: str
) -> None:
    settings = MemberSettings.from_env({**ORG_ENV, **env})

    assert settings.role_name == role_name
    assert settings.external_id == external_id
    assert any(w.startswith(warning) for w in settings.warnings)
    assert not any("has spaces" in w for w in settings.warnings)  # never quoted


def test_an_unknown_deployment_mode_is_account_mode_with_a_warning() -> None:
    settings = DetectionSettings.from_env({"DEPLOYMENT_MODE": "organisation"})

    assert not settings.organization_mode
    assert any(w.startswith("DeploymentMode") for w in settings.warnings)


def test_account_mode_uses_the_plain_clients() -> None:
    plain = client_cache()

    reach = build_reach({}, plain)

    assert reach.roles is None
    assert reach.clients_for_event(load_event("ami-exposure/made-public.json"), "x") is plain


def shell_session_in(account: str, instance_id: str) -> dict[str, Any]:
    event = copy.deepcopy(load_event("ssm-session/shell-session.json"))
    event["account"], event["region"] = account, REGION
    detail = event["detail"]
    detail["recipientAccountId"], detail["awsRegion"] = account, REGION
    detail["requestParameters"]["target"] = instance_id
    return event


def alert_deps(env: dict[str, str], store: IncidentStore, sns: Sns) -> alert_handler.Deps:
    clients = client_cache()
    return alert_handler.Deps(
        workflow=load_workflow("ssm-session"),
        settings=DetectionSettings.from_env(env),
        store=store,
        notify=NotifyDeps(NotifySettings(topic_arn="arn:aws:sns:us-east-1:1:t"), sns, None),
        clients=clients,
        reach=build_reach(env, clients),
    )


def test_an_alert_is_enriched_from_the_members_own_instance(
    member: str, store: IncidentStore
) -> None:
    member_ec2 = as_member(member, "ec2")
    instance_id = member_ec2.run_instances(
        ImageId="ami-12c6146b",
        MinCount=1,
        MaxCount=1,
        TagSpecifications=[
            {"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": "member-db"}]}
        ],
    )["Instances"][0]["InstanceId"]
    sns = Sns()

    result = alert_handler.run(
        shell_session_in(member, instance_id), alert_deps(ORG_ENV, store, sns)
    )

    assert result["facts"]["instanceName"] == "member-db"
    assert result["account_name"] == "Prod"
    assert f"{member} (Prod)" in sns.messages[0]["Message"]
    hub_ec2 = boto3.client("ec2", region_name=REGION)
    assert hub_ec2.describe_instances()["Reservations"] == []


def test_an_excluded_accounts_alert_says_so_and_reads_nothing_there(
    member: str, store: IncidentStore
) -> None:
    sns = Sns()
    env = {**ORG_ENV, "EXCLUDED_ACCOUNT_IDS": member}
    deps = alert_deps(env, store, sns)
    never = MemberRoles("trailwarden-member", "ext", sts=lambda _r: pytest.fail("assumed"))
    deps = alert_handler.Deps(
        workflow=deps.workflow,
        settings=deps.settings,
        store=deps.store,
        notify=deps.notify,
        clients=deps.clients,
        reach=Reach(plain=deps.clients, roles=never),
    )

    result = alert_handler.run(shell_session_in(member, "i-0123456789abcdef0"), deps)

    assert result["verdict"] == "alert"
    assert "ExcludedAccountIds: alert only" in sns.messages[0]["Message"]
    assert "instanceName" not in result["facts"]


def test_a_trail_stopped_in_a_member_is_restarted_in_that_member(
    member: str, store: IncidentStore
) -> None:
    as_member(member, "s3").create_bucket(
        Bucket="member-logs", CreateBucketConfiguration={"LocationConstraint": REGION}
    )
    cloudtrail = as_member(member, "cloudtrail")
    arn = cloudtrail.create_trail(Name="management-events", S3BucketName="member-logs")["TrailARN"]
    cloudtrail.start_logging(Name=arn)
    cloudtrail.stop_logging(Name=arn)
    event = copy.deepcopy(load_event("cloudtrail-tamper/stop-logging-by-name.json"))
    event["account"], event["region"] = member, REGION
    detail = event["detail"]
    detail["recipientAccountId"], detail["awsRegion"] = member, REGION
    detail["userIdentity"]["accountId"] = member

    finding = assess_handler.run(event, assess_deps(ORG_ENV, store, workflow="cloudtrail-tamper"))
    result = remediate_handler.run(finding, remediate_deps(ORG_ENV, "cloudtrail-tamper"))

    assert finding["verdict"] == "remediate"
    assert result["status"] == "remediated"
    assert cloudtrail.get_trail_status(Name=arn)["IsLogging"] is True
    assert boto3.client("cloudtrail", region_name=REGION).describe_trails()["trailList"] == []


def test_members_are_assumed_through_the_hubs_own_region() -> None:
    # The member's region may be an opt-in region the hub account has not enabled; a
    # token from the hub's regional STS endpoint is valid in every region.
    from handlers._reach import build_reach

    reach = build_reach({**ORG_ENV, "AWS_REGION": "eu-central-1"}, lambda *_: None)

    assert reach.roles is not None
    assert reach.sts_region == "eu-central-1"
