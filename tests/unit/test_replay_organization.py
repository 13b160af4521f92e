"""`trailwarden replay` of organisation trail logs (issue #14): every record is decided in
its own account, as the hub of ``DeploymentMode=organization`` would decide it.

The logs are generated here: an organisation trail's layout
(``AWSLogs/<org-id>/<account>/CloudTrail/<region>/YYYY/MM/DD/...``) holding the same
samples from two member accounts. Expected answers come from events/index.json and the
issue's rules, never from the code under test.
"""

from __future__ import annotations

import gzip
import json
from datetime import date
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from moto import mock_aws

from tests.unit.test_replay import INDEX, by_id, record_of, replay, sample, write_log
from trailwarden_local import replay_rules

if TYPE_CHECKING:
    from pathlib import Path

ORG_ID = "o-a1b2c3d4e5"
HUB = "111111111111"
MEMBER_A = "222222222222"
MEMBER_B = "333333333333"
OUTSIDER = "999988887777"  # the account made-public's neighbour sample shares with
MEMBER_ROLE = "arn:aws:iam::{account}:role/trailwarden/member/trailwarden-member"
MEMBER_ROLE_ANY_ACCOUNT = "arn:aws:iam::*:role/trailwarden/member/trailwarden-member"
HUB_ROLES = f"arn:aws:iam::{HUB}:role/trailwarden/hub/*"
# The samples' parameters (their TrustedAccountIds is member A's id: no shares trusted
# by accident), in organisation mode.
ORGANIZATION = [
    *(f"{key}={value}" for key, value in INDEX["parameters"].items() if key != "TrustedAccountIds"),
    "DeploymentMode=organization",
    f"OrganizationId={ORG_ID}",
    "MemberExternalId=replay-test-external-id",
]


def in_account(record: dict[str, Any], account: str, event_id: str | None = None) -> dict[str, Any]:
    """A record as CloudTrail writes it in ``account`` (its caller in that account too)."""
    text = json.dumps(record).replace("123456789012", account)
    moved: dict[str, Any] = json.loads(text)
    moved["recipientAccountId"] = account
    if event_id is not None:
        moved["eventID"] = event_id
    return moved


def by_member_role(record: dict[str, Any], account: str) -> dict[str, Any]:
    """The record as a call of the member role in ``account`` (what the hub does there)."""
    role = MEMBER_ROLE.format(account=account)
    identity = {
        "type": "AssumedRole",
        "principalId": "AROAEXAMPLEMEMBER:trailwarden-ami-exposure-e1",
        "arn": f"arn:aws:sts::{account}:assumed-role/trailwarden-member/trailwarden-ami",
        "accountId": account,
        "sessionContext": {
            "sessionIssuer": {"type": "Role", "arn": role, "accountId": account},
            "attributes": {"creationDate": "2026-10-01T00:00:00Z", "mfaAuthenticated": "false"},
        },
    }
    return {**record, "userIdentity": identity}


def org_log(root: Path, account: str, records: list[dict[str, Any]], name: str = "a") -> Path:
    folder = root / "AWSLogs" / ORG_ID / account / "CloudTrail" / "us-east-1" / "2026/10/01"
    stamp = f"{account}_CloudTrail_us-east-1_20261001T0000Z_{name}.json.gz"
    return write_log(folder / stamp, records)


def benign(account: str, event_id: str) -> dict[str, Any]:
    record = in_account(record_of("ami-exposure/made-public.json"), account, event_id)
    return {**record, "eventName": "DescribeImages", "requestParameters": {}}


MADE_PUBLIC = "ami-exposure/made-public.json"
SAME_ID = "5e0c0a55-0000-4000-8000-000000000001"


def test_an_organisation_log_is_decided_per_account_with_account_keys(tmp_path: Path) -> None:
    made_public = record_of(MADE_PUBLIC)
    org_log(
        tmp_path, MEMBER_A, [benign(MEMBER_A, "a-1"), in_account(made_public, MEMBER_A, SAME_ID)]
    )
    org_log(
        tmp_path, MEMBER_B, [in_account(made_public, MEMBER_B, SAME_ID), benign(MEMBER_B, "b-1")]
    )

    status, lines, err = replay([tmp_path], overrides=ORGANIZATION, own_role_arns=[HUB_ROLES])
    full = replay([tmp_path], overrides=ORGANIZATION, own_role_arns=[HUB_ROLES], shortcuts=False)
    forked = replay([tmp_path], overrides=ORGANIZATION, own_role_arns=[HUB_ROLES], jobs=2)

    assert status == 0
    keyed = {line["key"]: line for line in lines}
    assert set(keyed) == {
        f"{MEMBER_A}#a-1",
        f"{MEMBER_A}#{SAME_ID}",
        f"{MEMBER_B}#{SAME_ID}",
        f"{MEMBER_B}#b-1",
    }
    for account in (MEMBER_A, MEMBER_B):
        incident = keyed[f"{account}#{SAME_ID}"]
        assert (incident["account"], incident["verdict"]) == (account, "remediate")
        assert incident["eventID"] == SAME_ID
    assert keyed[f"{MEMBER_B}#b-1"]["account"] == MEMBER_B
    assert full[:2] == forked[:2] == (status, lines)  # the fast scan reads them exactly
    assert "organisation mode" in err
    assert (
        f"by account (records not ignored): {MEMBER_A} remediate 1; {MEMBER_B} remediate 1"
        in (forked[2])
    )


def test_account_mode_lines_carry_no_account_and_keep_plain_keys(tmp_path: Path) -> None:
    org_log(tmp_path, MEMBER_A, [in_account(record_of(MADE_PUBLIC), MEMBER_A, SAME_ID)])

    _, (line,), err = replay([tmp_path])

    assert line["key"] == SAME_ID
    assert "account" not in line
    assert "organisation mode" not in err


def test_the_member_roles_own_call_is_ignored_in_every_account(tmp_path: Path) -> None:
    made_public = record_of(MADE_PUBLIC)
    own_a = by_member_role(in_account(made_public, MEMBER_A, "own-a"), MEMBER_A)
    own_b = by_member_role(in_account(made_public, MEMBER_B, "own-b"), MEMBER_B)
    look_alike = by_member_role(in_account(made_public, MEMBER_B, "look-alike"), MEMBER_B)
    look_alike["userIdentity"]["sessionContext"]["sessionIssuer"]["arn"] = (
        f"arn:aws:iam::{MEMBER_B}:role/other/trailwarden-member"
    )
    org_log(tmp_path, MEMBER_A, [own_a])
    org_log(tmp_path, MEMBER_B, [own_b, look_alike])

    _, lines, _ = replay([tmp_path], overrides=ORGANIZATION, own_role_arns=[HUB_ROLES])

    found = by_id(lines)
    for event_id in ("own-a", "own-b"):
        assert (found[event_id]["verdict"], found[event_id]["rule"]) == ("ignore", None)
        assert "the app's own call" in found[event_id]["reason"]
    assert found["look-alike"]["verdict"] == "remediate"  # another path is not the member role


def test_excluded_accounts_are_alert_only(tmp_path: Path) -> None:
    made_public = record_of(MADE_PUBLIC)
    org_log(tmp_path, MEMBER_A, [in_account(made_public, MEMBER_A, "in-a")])
    org_log(tmp_path, MEMBER_B, [in_account(made_public, MEMBER_B, "in-b")])

    _, lines, _ = replay(
        [tmp_path],
        overrides=[*ORGANIZATION, f"ExcludedAccountIds={MEMBER_B}"],
        own_role_arns=[HUB_ROLES],
    )

    found = by_id(lines)
    assert found["in-a"]["verdict"] == "remediate"
    assert (found["in-b"]["verdict"], found["in-b"]["actions"]) == ("alert", [])
    assert "ExcludedAccountIds" in found["in-b"]["reason"]


def test_the_rules_on_the_hubs_default_bus_see_only_the_hubs_records(tmp_path: Path) -> None:
    # app-tamper's rules stay on the hub's default bus: they watch the hub's own stack
    disable_rule = record_of("app-tamper/disable-rule.json")
    org_log(tmp_path, HUB, [in_account(disable_rule, HUB, "in-hub")])
    org_log(tmp_path, MEMBER_A, [in_account(disable_rule, MEMBER_A, "in-member")])

    _, lines, err = replay([tmp_path], overrides=ORGANIZATION, own_role_arns=[HUB_ROLES])

    found = by_id(lines)
    assert (found["in-hub"]["workflow"], found["in-hub"]["verdict"]) == ("app-tamper", "alert")
    assert (found["in-member"]["verdict"], found["in-member"]["rule"]) == ("ignore", None)
    assert f"hub account {HUB}" in err


def test_an_eventbridge_event_is_keyed_by_its_account(tmp_path: Path) -> None:
    event = sample(MADE_PUBLIC)
    event = {**event, "account": MEMBER_A, "detail": in_account(event["detail"], MEMBER_A)}
    path = tmp_path / "event.json"
    path.write_text(json.dumps(event), encoding="utf-8")

    _, (line,), _ = replay([path], overrides=ORGANIZATION, own_role_arns=[HUB_ROLES])

    assert line["key"] == f"{MEMBER_A}#{event['detail']['eventID']}"
    assert line["account"] == MEMBER_A


# --------------------------------------------------------------------------- own roles


def test_own_role_arn_accepts_the_member_role_wildcard_form(tmp_path: Path) -> None:
    made_public = record_of(MADE_PUBLIC)
    own_a = by_member_role(in_account(made_public, MEMBER_A, "own-a"), MEMBER_A)
    own_b = by_member_role(in_account(made_public, MEMBER_B, "own-b"), MEMBER_B)
    longer = by_member_role(in_account(made_public, MEMBER_B, "longer-name"), MEMBER_B)
    issuer = longer["userIdentity"]["sessionContext"]["sessionIssuer"]
    issuer["arn"] += "-2"  # a wildcard matches the whole ARN, not a prefix of it
    org_log(tmp_path, MEMBER_A, [own_a, own_b, longer])

    _, lines, _ = replay([tmp_path], own_role_arns=[MEMBER_ROLE_ANY_ACCOUNT])  # account mode
    _, without, _ = replay([tmp_path], own_role_arns=[])

    found = by_id(lines)
    for event_id in ("own-a", "own-b"):
        assert found[event_id]["verdict"] == "ignore"
        assert "the app's own call" in found[event_id]["reason"]
    assert found["longer-name"]["verdict"] == "remediate"
    assert {line["verdict"] for line in without} == {"remediate"}


def test_a_wildcard_own_role_is_the_apps_own_in_the_detection_too(tmp_path: Path) -> None:
    # ssm-session's rule names no own role: the detection's own-call check decides, and a
    # wildcard own role given on the command line is the app's own there too.
    session = record_of("ssm-session/shell-session.json")
    own = by_member_role(in_account(session, MEMBER_A, "own-session"), MEMBER_A)
    org_log(tmp_path, MEMBER_A, [own])

    _, (line,), _ = replay([tmp_path], own_role_arns=[MEMBER_ROLE_ANY_ACCOUNT])
    _, (plain,), _ = replay([tmp_path], own_role_arns=[])

    assert (line["workflow"], line["verdict"]) == ("ssm-session", "ignore")
    assert line["reason"] == "the app's own call"
    assert plain["verdict"] == "alert"


@pytest.mark.parametrize(
    "arn",
    [
        "arn:aws:iam::**:role/trailwarden/member/trailwarden-member",
        "arn:aws:iam::*:user/someone",
        "arn:aws:sts::*:assumed-role/x/y",
    ],
)
def test_malformed_own_role_wildcards_are_usage_errors(arn: str) -> None:
    status, lines, err = replay(["events/"], own_role_arns=[arn])

    assert (status, lines) == (2, [])
    assert "--own-role-arn" in err


# --------------------------------------------------------------------------- trust


def _shared_with(account: str, event_id: str) -> dict[str, Any]:
    record = in_account(record_of("ami-exposure/shared-untrusted-account.json"), MEMBER_A)
    text = json.dumps(record).replace(OUTSIDER, account)
    return {**json.loads(text), "eventID": event_id}


def test_trusted_organization_uses_the_given_accounts_or_says_it_could_not(
    tmp_path: Path,
) -> None:
    logs = tmp_path / "logs"
    org_log(logs, MEMBER_A, [_shared_with(MEMBER_B, "to-b"), _shared_with(OUTSIDER, "out")])
    accounts = tmp_path / "accounts.json"
    listing = {
        "Accounts": [
            {"Id": HUB, "Status": "ACTIVE"},
            {"Id": MEMBER_A, "Status": "ACTIVE"},
            {"Id": MEMBER_B, "Status": "ACTIVE"},
            {"Id": OUTSIDER, "Status": "SUSPENDED"},
        ]
    }
    accounts.write_text(json.dumps(listing), encoding="utf-8")
    trust = [*ORGANIZATION, "TrustedAccountIds=organization"]

    _, unknown, unknown_err = replay([logs], overrides=trust, own_role_arns=[HUB_ROLES])
    _, known, known_err = replay(
        [logs], overrides=trust, own_role_arns=[HUB_ROLES], organization_accounts=accounts
    )

    assert by_id(unknown)["to-b"]["verdict"] == "remediate"
    assert "organisation's accounts are unknown" in by_id(unknown)["to-b"]["reason"]
    assert "--organization-accounts" in unknown_err
    assert by_id(known)["to-b"]["verdict"] == "ignore"
    assert by_id(known)["out"]["verdict"] == "remediate"  # a suspended account is not trusted
    assert "3 accounts" in known_err


def test_an_organization_accounts_file_without_ids_is_a_usage_error(tmp_path: Path) -> None:
    empty = tmp_path / "accounts.txt"
    empty.write_text("none here\n", encoding="utf-8")

    status, _, err = replay(["events/"], organization_accounts=empty)

    assert status == 2
    assert "--organization-accounts" in err


def test_the_fast_scan_reads_accounts_exactly_as_a_full_parse(tmp_path: Path) -> None:
    no_account = benign(MEMBER_A, "no-account")
    del no_account["recipientAccountId"]  # eventVersion 1.0x: the caller's account
    nested_only = benign(MEMBER_A, "nested-only")
    del nested_only["recipientAccountId"]
    nested_only["requestParameters"] = {"recipientAccountId": MEMBER_B}
    files = {
        "plain": [benign(MEMBER_A, "a-1"), benign(MEMBER_B, "b-1")],
        "missing": [benign(MEMBER_A, "a-2"), no_account],
        "nested": [nested_only, benign(MEMBER_B, "b-2")],
        "not-digits": [benign(MEMBER_A, "a-3") | {"recipientAccountId": "12345"}],
        "null": [benign(MEMBER_A, "a-4") | {"recipientAccountId": None}],
    }
    for name, records in files.items():
        org_log(tmp_path, MEMBER_A, records, name)
    raw_utf8 = json.dumps({"Records": [benign(MEMBER_B, "ü-1")]}, ensure_ascii=False)
    (tmp_path / "utf8.json.gz").write_bytes(gzip.compress(raw_utf8.encode()))

    fast = replay([tmp_path], overrides=ORGANIZATION, own_role_arns=[HUB_ROLES])
    full = replay([tmp_path], overrides=ORGANIZATION, own_role_arns=[HUB_ROLES], shortcuts=False)

    assert fast[:2] == full[:2]
    found = by_id(fast[1])
    assert (found["no-account"]["key"], found["no-account"]["account"]) == (
        f"{MEMBER_A}#no-account",
        MEMBER_A,
    )
    assert found["nested-only"]["account"] == MEMBER_A  # never the nested value
    assert found["b-2"]["key"] == f"{MEMBER_B}#b-2"
    assert found["a-4"]["account"] == MEMBER_A
    assert found["ü-1"]["key"] == f"{MEMBER_B}#ü-1"


def test_cached_rules_decide_an_organisation_log_as_the_template_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    made_public = record_of(MADE_PUBLIC)
    disable_rule = record_of("app-tamper/disable-rule.json")
    logs = tmp_path / "logs"
    org_log(logs, HUB, [in_account(disable_rule, HUB, "tamper-hub")])
    org_log(
        logs,
        MEMBER_A,
        [
            in_account(disable_rule, MEMBER_A, "tamper-member"),
            by_member_role(in_account(made_public, MEMBER_A, "own-a"), MEMBER_A),
        ],
    )
    cache = tmp_path / "cache"
    arguments = {"overrides": ORGANIZATION, "own_role_arns": [HUB_ROLES], "rules_cache": cache}
    monkeypatch.setattr(replay_rules, "_LOADED", {})
    first = replay([logs], **arguments)
    monkeypatch.setattr(replay_rules, "_LOADED", {})

    second = replay([logs], **arguments)

    assert len(list(cache.glob("replay-rules-*.json"))) == 1
    assert second[:2] == first[:2]
    assert f"hub account {HUB}" in second[2]  # the notes are cached too
    found = by_id(second[1])
    assert [found[i]["verdict"] for i in ("tamper-hub", "tamper-member", "own-a")] == [
        "alert",
        "ignore",
        "ignore",
    ]
    assert "the app's own call" in found["own-a"]["reason"]


def test_since_and_until_prune_the_dated_folders_of_every_account_of_an_org_trail() -> None:
    record = record_of(MADE_PUBLIC)
    listed: list[str] = []

    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.meta.events.register(
            "before-parameter-build.s3.ListObjectsV2",
            lambda params, **_: listed.append(params["Prefix"]),
        )
        s3.create_bucket(Bucket="org-trail")
        for account in (MEMBER_A, MEMBER_B):
            for day in ("2026/10/31", "2026/11/01"):
                stamp = day.replace("/", "")
                key = (
                    f"AWSLogs/{ORG_ID}/{account}/CloudTrail/us-east-1/{day}/"
                    f"{account}_CloudTrail_us-east-1_{stamp}T0000Z_x.json.gz"
                )
                body = {"Records": [in_account(record, account, f"{account}-{stamp}")]}
                s3.put_object(
                    Bucket="org-trail", Key=key, Body=gzip.compress(json.dumps(body).encode())
                )

        status, lines, _ = replay(
            [f"s3://org-trail/AWSLogs/{ORG_ID}/"],
            overrides=ORGANIZATION,
            own_role_arns=[HUB_ROLES],
            since=date(2026, 11, 1),
            s3_client=lambda: s3,
        )

    assert status == 0
    assert sorted(line["key"] for line in lines) == [
        f"{MEMBER_A}#{MEMBER_A}-20261101",
        f"{MEMBER_B}#{MEMBER_B}-20261101",
    ]
    assert not any(prefix.endswith("2026/10/") for prefix in listed)
