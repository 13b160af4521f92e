"""Account mode (the default) in the local engine: no organisation, nothing of it active.
Kept apart from test_organization_engine.py, whose app holds a mock for the module."""

from __future__ import annotations

import boto3

from tests.workflow.test_organization_engine import REGION, ROLELESS, finish, stop_logging_in
from trailwarden_local.demo import FAST_ENV
from trailwarden_local.engine import LocalApp
from trailwarden_local.samples import TEMPLATE


def test_account_mode_has_no_organisation_and_routes_on_the_default_bus() -> None:
    event = stop_logging_in("123456789012", "us-east-1")

    with LocalApp(TEMPLATE, function_env_overrides=FAST_ENV) as app:
        deliveries = app.put_event(event)
        finish(app, deliveries)
        roleless = boto3.client("sts", region_name=REGION).assume_role(
            RoleArn=f"arn:aws:iam::{ROLELESS}:role/anything", RoleSessionName="test"
        )

    assert app.organization is None
    assert [(d.event_bus, d.forwarded_by) for d in deliveries] == [("default", None)]
    assert roleless["Credentials"]["AccessKeyId"]  # moto as it is: no role check
