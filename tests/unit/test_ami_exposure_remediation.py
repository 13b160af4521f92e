"""ami-exposure remediation against moto's EC2 (state) and botocore's Stubber (errors)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from trailwarden.models.errors import RemediationFailed, ResourceGone, TransientAwsError
from trailwarden.workflows.ami_exposure import remediation as ami_exposure

if TYPE_CHECKING:
    from collections.abc import Iterator

TRUSTED = frozenset({"222222222222"})


@pytest.fixture
def ec2() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("ec2", region_name="us-east-1")


def make_image(ec2: Any, *grants: dict[str, str]) -> str:
    image_id: str = ec2.register_image(Name="golden", RootDeviceName="/dev/xvda")["ImageId"]
    if grants:
        ec2.modify_image_attribute(ImageId=image_id, LaunchPermission={"Add": list(grants)})
    return image_id


def launch_permissions(ec2: Any, image_id: str) -> list[dict[str, str]]:
    attrs = ec2.describe_image_attribute(ImageId=image_id, Attribute="launchPermission")
    return sorted(attrs["LaunchPermissions"], key=lambda p: sorted(p.items()))


def test_ami_shared_with_all_is_made_private_and_trusted_share_kept(ec2: Any) -> None:
    image_id = make_image(ec2, {"Group": "all"}, {"UserId": "222222222222"})

    result = ami_exposure.apply(ec2, image_id, TRUSTED)

    assert result.status == "remediated"
    assert launch_permissions(ec2, image_id) == [{"UserId": "222222222222"}]
    assert result.before["public"] is True
    assert result.after == {
        "public": False,
        "accountIds": ["222222222222"],
        "organizationArns": [],
        "organizationalUnitArns": [],
    }


def test_every_untrusted_account_found_at_reread_is_removed(ec2: Any) -> None:
    image_id = make_image(
        ec2, {"UserId": "999988887777"}, {"UserId": "111100002222"}, {"UserId": "222222222222"}
    )

    ami_exposure.apply(ec2, image_id, TRUSTED)

    assert launch_permissions(ec2, image_id) == [{"UserId": "222222222222"}]


def test_already_private_image_is_success_without_a_call(ec2: Any) -> None:
    image_id = make_image(ec2, {"UserId": "222222222222"})

    result = ami_exposure.apply(ec2, image_id, TRUSTED)

    assert result.status == "already-clean"
    assert result.actions == ()
    assert launch_permissions(ec2, image_id) == [{"UserId": "222222222222"}]


def test_applying_twice_is_safe(ec2: Any) -> None:
    image_id = make_image(ec2, {"Group": "all"})

    first = ami_exposure.apply(ec2, image_id, TRUSTED)
    second = ami_exposure.apply(ec2, image_id, TRUSTED)

    assert (first.status, second.status) == ("remediated", "already-clean")
    assert launch_permissions(ec2, image_id) == []


def test_plan_is_the_dry_run_of_exactly_the_offending_permissions() -> None:
    perms = ami_exposure.LaunchPermissions(
        public=True,
        account_ids=("222222222222", "999988887777"),
        organization_arns=("arn:o",),
        ou_arns=(),
    )

    (action,) = ami_exposure.plan("ami-1", perms, TRUSTED)

    assert action.action == "ec2:ModifyImageAttribute"
    assert action.params == {
        "LaunchPermission": {"Remove": [{"Group": "all"}, {"UserId": "999988887777"}]}
    }


def _stubbed_ec2() -> tuple[Any, Stubber]:
    client = boto3.client("ec2", region_name="us-east-1")
    return client, Stubber(client)


def test_deregistered_image_raises_resource_gone() -> None:
    client, stub = _stubbed_ec2()
    stub.add_client_error("describe_images", "InvalidAMIID.NotFound")

    with stub, pytest.raises(ResourceGone):
        ami_exposure.apply(client, "ami-1", TRUSTED)


def test_throttling_raises_transient_error() -> None:
    client, stub = _stubbed_ec2()
    stub.add_client_error("describe_images", "RequestLimitExceeded", http_status_code=503)

    with stub, pytest.raises(TransientAwsError):
        ami_exposure.apply(client, "ami-1", TRUSTED)


def test_permission_still_there_after_removal_fails_verification() -> None:
    client, stub = _stubbed_ec2()
    public = {"ImageId": "ami-1", "LaunchPermissions": [{"Group": "all"}]}
    stub.add_response("describe_images", {"Images": [{"ImageId": "ami-1"}]})
    stub.add_response("describe_image_attribute", public)
    stub.add_response("modify_image_attribute", {})
    stub.add_response("describe_images", {"Images": [{"ImageId": "ami-1"}]})
    stub.add_response("describe_image_attribute", public)

    with stub, pytest.raises(RemediationFailed):
        ami_exposure.apply(client, "ami-1", TRUSTED)
