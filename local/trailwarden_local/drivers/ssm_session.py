"""Demo driver for ssm-session: an instance with a Name tag as the session's target.

moto does not model Session Manager sessions; the instance is what the alert looks up
(its Name tag). Without ``setup.instance`` the target does not exist, so the lookup
fails and the alert goes out without the Name tag.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from trailwarden_local.drivers.base import Prepared, client

if TYPE_CHECKING:
    from trailwarden_local.engine import LocalApp
    from trailwarden_local.samples import Sample


BASE_IMAGE = "trailwarden-demo-base"


def _base_image(ec2: Any) -> str:
    """An AMI to launch from (the emulator loads none by default)."""
    found = ec2.describe_images(Owners=["self"], Filters=[{"Name": "name", "Values": [BASE_IMAGE]}])
    if found["Images"]:
        return str(found["Images"][0]["ImageId"])
    return str(ec2.register_image(Name=BASE_IMAGE, RootDeviceName="/dev/xvda")["ImageId"])


def launch(ec2: Any, name: str, key_name: str | None = None) -> str:
    """One running instance tagged Name=name (optionally with a key pair)."""
    image = _base_image(ec2)
    kwargs: dict[str, Any] = {
        "ImageId": image,
        "MinCount": 1,
        "MaxCount": 1,
        "InstanceType": "t3.micro",
        "TagSpecifications": [
            {"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": name}]}
        ],
    }
    if key_name:
        pairs = ec2.describe_key_pairs()["KeyPairs"]
        if key_name not in {p["KeyName"] for p in pairs}:
            ec2.create_key_pair(KeyName=key_name)
        kwargs["KeyName"] = key_name
    return str(ec2.run_instances(**kwargs)["Instances"][0]["InstanceId"])


def read_instance(ec2: Any, instance_id: str) -> dict[str, Any]:
    try:
        reservations = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"]
    except ec2.exceptions.ClientError:
        return {"exists": False}
    for reservation in reservations:
        for instance in reservation["Instances"]:
            tags = {t["Key"]: t["Value"] for t in instance.get("Tags", [])}
            return {
                "exists": True,
                "name": tags.get("Name", ""),
                "state": instance["State"]["Name"],
            }
    return {"exists": False}


def prepare(app: LocalApp, sample: Sample) -> Prepared:
    ec2 = client(app, "ec2")
    event = copy.deepcopy(sample.event)
    setup = sample.setup.get("instance")
    target = str(event["detail"]["requestParameters"]["target"])
    if isinstance(setup, dict):
        target = launch(ec2, str(setup["name"]))
        event["detail"]["requestParameters"]["target"] = target
    return Prepared(event=event, read_state=lambda: read_instance(ec2, target))
