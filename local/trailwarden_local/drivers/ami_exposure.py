"""Demo driver for ami-exposure: a fresh AMI per scenario, shared as the event says."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from trailwarden.workflows.ami_exposure.detection import parse_grant
from trailwarden.workflows.ami_exposure.remediation import read_launch_permissions
from trailwarden_local.drivers.base import Prepared, client, own_role_arn, rewrite_issuer

if TYPE_CHECKING:
    from trailwarden_local.engine import LocalApp
    from trailwarden_local.samples import Sample


def _new_image(ec2: Any, name: str) -> str:
    return str(ec2.register_image(Name=name, RootDeviceName="/dev/xvda")["ImageId"])


def prepare(app: LocalApp, sample: Sample) -> Prepared:
    ec2 = client(app, "ec2")
    image_id = _new_image(ec2, f"demo-{sample.scenario}")
    if sample.setup.get("launchPermission"):
        ec2.modify_image_attribute(
            ImageId=image_id, LaunchPermission={"Add": sample.setup["launchPermission"]}
        )
    event = copy.deepcopy(sample.event)
    detail = event["detail"]
    detail["requestParameters"]["imageId"] = image_id
    if sample.own_role:
        rewrite_issuer(event, own_role_arn(app, "AmiExposureRemediateFunction"))
    if not detail.get("errorCode"):  # a failed call changed nothing
        grant = parse_grant(detail["requestParameters"])
        add = [{"Group": "all"}] if grant.public else []
        add += [{"UserId": account} for account in grant.account_ids]
        if add:
            ec2.modify_image_attribute(ImageId=image_id, LaunchPermission={"Add": add})
    return Prepared(
        event=event, read_state=lambda: read_launch_permissions(ec2, image_id).to_dict()
    )
