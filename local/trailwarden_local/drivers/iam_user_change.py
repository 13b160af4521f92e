"""Demo driver for iam-user-change: make the IAM call the event records, in the emulator."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from trailwarden_local.drivers.base import Prepared, client

if TYPE_CHECKING:
    from trailwarden_local.engine import LocalApp
    from trailwarden_local.samples import Sample


def read_user(iam: Any, name: str) -> dict[str, Any]:
    """The user as JSON: {"exists": false} once it is gone."""
    try:
        user = iam.get_user(UserName=name)["User"]
    except iam.exceptions.NoSuchEntityException:
        return {"exists": False}
    tags = iam.list_user_tags(UserName=name)["Tags"]
    return {
        "exists": True,
        "path": user["Path"],
        "tags": {t["Key"]: t["Value"] for t in tags},
    }


def prepare(app: LocalApp, sample: Sample) -> Prepared:
    iam = client(app, "iam")
    event = copy.deepcopy(sample.event)
    detail = event["detail"]
    request = detail.get("requestParameters") or {}
    name = str(request["userName"])
    existing = sample.setup.get("user")
    if isinstance(existing, dict) and not read_user(iam, name)["exists"]:
        iam.create_user(UserName=name, Path=existing.get("path", "/"))
    if not detail.get("errorCode"):  # a failed call changed nothing
        if detail["eventName"] == "CreateUser" and not read_user(iam, name)["exists"]:
            tags = [{"Key": t["key"], "Value": t["value"]} for t in request.get("tags") or []]
            iam.create_user(UserName=name, Path=request.get("path") or "/", Tags=tags)
        elif detail["eventName"] == "DeleteUser" and read_user(iam, name)["exists"]:
            iam.delete_user(UserName=name)
    return Prepared(event=event, read_state=lambda: read_user(iam, name))
