"""The approval endpoint: GET never decides; only one POST with a page's nonce does, once."""

from __future__ import annotations

import ipaddress
import json
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from trailwarden.approvals import page, tokens
from trailwarden.approvals.service import ApprovalService, HttpRequest
from trailwarden.approvals.store import MAX_NONCES, ApprovalStore, NewApproval
from trailwarden.settings import ApprovalSettings

if TYPE_CHECKING:
    from collections.abc import Iterator

TABLE = "approvals"
TOKEN = "AQCEAAAAKgAAAAMAAAAAAAAAAToken" + "x" * 200
APPROVAL_ID = tokens.new_secret()
NOW = 1_795_000_000
HUMAN = "198.51.100.7"
BROWSER = "Mozilla/5.0 (X11; Linux x86_64) Chrome/131"
SUMMARY = {
    "title": "[CRITICAL] Approval needed: protected IP in a WAF IP set",
    "summary": "minsu.kim changed WAF IP set <b>blocklist</b>",
    "fields": [["IP set", '<script>alert("x")</script>'], ["Who", "O'Brien & co"]],
}


@dataclass
class FakeStepFunctions:
    """Records SendTaskSuccess calls; answers with ``error`` when set."""

    calls: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None

    def send_task_success(self, **kwargs: Any) -> dict[str, Any]:
        if self.error:
            raise ClientError({"Error": {"Code": self.error, "Message": "no"}}, "SendTaskSuccess")
        self.calls.append(kwargs)
        return {}


@dataclass
class Clock:
    now: float = NOW

    def __call__(self) -> float:
        return self.now


@dataclass
class Endpoint:
    service: ApprovalService
    store: ApprovalStore
    sfn: FakeStepFunctions
    clock: Clock
    ddb: Any

    def get(self, approval_id: str = APPROVAL_ID, ip: str = HUMAN) -> page.Page:
        return self.service.handle(HttpRequest("GET", approval_id, ip, BROWSER))

    def post(
        self,
        nonce: str | None,
        decision: str = "approve",
        approval_id: str = APPROVAL_ID,
        ip: str = HUMAN,
    ) -> page.Page:
        form = {"decision": decision, "nonce": nonce or ""}
        return self.service.handle(HttpRequest("POST", approval_id, ip, BROWSER, form))

    def item(self) -> dict[str, Any]:
        key = {"pk": {"S": tokens.digest(APPROVAL_ID)}}
        return dict(self.ddb.get_item(TableName=TABLE, Key=key)["Item"])


def nonce_of(response: page.Page) -> str:
    found = re.search(r'name="nonce" value="([^"]+)"', response.body)
    assert found, response.body
    return found.group(1)


def make_endpoint(approver_cidrs: tuple[str, ...] = ()) -> Endpoint:
    ddb = boto3.client("dynamodb", region_name="us-east-1")
    ddb.create_table(
        TableName=TABLE,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
    )
    store = ApprovalStore(ddb, TABLE)
    store.create(
        NewApproval(
            id_hash=tokens.digest(APPROVAL_ID),
            task_token=TOKEN,
            summary=SUMMARY,
            workflow="waf-protected-ip",
            event_id="e-1",
            execution_id="arn:exec",
            created_at=NOW,
            expires_at=NOW + 3600,
            purge_at=NOW + 3600 + 7 * 86400,
        )
    )
    sfn, clock = FakeStepFunctions(), Clock()
    settings = ApprovalSettings(
        table=TABLE,
        approver_cidrs=tuple(ipaddress.ip_network(c) for c in approver_cidrs),
    )
    service = ApprovalService(store, sfn, settings, "en", ZoneInfo("Asia/Seoul"), clock=clock)
    return Endpoint(service, store, sfn, clock, ddb)


@pytest.fixture
def endpoint() -> Iterator[Endpoint]:
    with mock_aws():
        yield make_endpoint()


# ------------------------------------------------------------------ GET


def test_get_never_decides_however_often_it_is_fetched(endpoint: Endpoint) -> None:
    pages = [endpoint.get() for _ in range(MAX_NONCES + 5)]

    assert {p.status for p in pages} == {200}
    assert len({nonce_of(p) for p in pages}) == len(pages)
    assert endpoint.sfn.calls == []
    assert endpoint.item()["status"] == {"S": "pending"}
    assert endpoint.item()["taskToken"] == {"S": TOKEN}


def test_confirmation_page_escapes_event_strings_and_offers_both_buttons(
    endpoint: Endpoint,
) -> None:
    body = endpoint.get().body

    assert "<script>" not in body
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in body
    assert "&lt;b&gt;blocklist&lt;/b&gt;" in body
    assert "O&#x27;Brien &amp; co" in body
    assert 'value="approve"' in body
    assert 'value="reject"' in body
    assert '<form method="post">' in body


def test_pages_are_served_uncached_unframed_and_without_referrer(endpoint: Endpoint) -> None:
    headers = endpoint.get().headers

    assert headers["Cache-Control"] == "no-store"
    assert headers["Referrer-Policy"] == "no-referrer"
    assert headers["X-Frame-Options"] == "DENY"
    csp = headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp
    assert "default-src 'none'" in csp
    assert "form-action 'self'" in csp
    assert "script-src" not in csp  # no script may run at all (default-src 'none')


def test_the_stored_nonce_is_a_hash_never_the_nonce(endpoint: Endpoint) -> None:
    nonce = nonce_of(endpoint.get())

    stored = endpoint.item()["nonces"]["M"]

    assert nonce not in json.dumps(stored)
    assert tokens.digest(nonce) in stored


def test_the_link_id_itself_is_never_stored(endpoint: Endpoint) -> None:
    assert APPROVAL_ID not in json.dumps(endpoint.item())


# ------------------------------------------------------------------ POST


def test_post_with_the_page_nonce_decides_once_and_records_who(endpoint: Endpoint) -> None:
    nonce = nonce_of(endpoint.get())

    response = endpoint.post(nonce, "approve")

    assert response.status == 200
    assert "Approved" in response.body
    (call,) = endpoint.sfn.calls
    assert call["taskToken"] == TOKEN
    output = json.loads(call["output"])
    assert output == {
        "status": "approved",
        "decidedAt": NOW,
        "sourceIp": HUMAN,
        "userAgent": BROWSER,
    }
    item = endpoint.item()
    assert item["status"] == {"S": "approved"}
    assert item["decidedIp"] == {"S": HUMAN}
    assert item["decidedUserAgent"] == {"S": BROWSER}
    assert item["decidedAt"] == {"N": str(NOW)}
    assert "taskToken" not in item  # spent: dropped once delivered


def test_reject_hands_the_rejection_to_the_workflow(endpoint: Endpoint) -> None:
    response = endpoint.post(nonce_of(endpoint.get()), "reject")

    assert response.status == 200
    assert json.loads(endpoint.sfn.calls[0]["output"])["status"] == "rejected"


def test_replayed_post_fails_without_side_effects(endpoint: Endpoint) -> None:
    nonce = nonce_of(endpoint.get())
    endpoint.post(nonce)

    replay = endpoint.post(nonce)

    assert replay.status == 409
    assert "already approved" in replay.body
    assert len(endpoint.sfn.calls) == 1


def test_second_decision_with_a_fresh_page_fails(endpoint: Endpoint) -> None:
    first, second = nonce_of(endpoint.get()), nonce_of(endpoint.get())
    endpoint.post(first, "approve")

    late = endpoint.post(second, "reject")

    assert late.status == 409
    assert len(endpoint.sfn.calls) == 1
    assert endpoint.item()["status"] == {"S": "approved"}


def test_page_rendered_after_the_decision_offers_no_form(endpoint: Endpoint) -> None:
    endpoint.post(nonce_of(endpoint.get()))

    again = endpoint.get()

    assert again.status == 409
    assert "<form" not in again.body


@pytest.mark.parametrize(
    "nonce",
    [tokens.new_secret(), None, "short", "x" * 43 + "<"],
    ids=["never-issued", "missing", "malformed", "bad-characters"],
)
def test_wrong_nonce_fails_without_side_effects(endpoint: Endpoint, nonce: str | None) -> None:
    endpoint.get()

    response = endpoint.post(nonce)

    assert response.status in (400, 403)
    assert endpoint.sfn.calls == []
    assert endpoint.item()["status"] == {"S": "pending"}


def test_post_without_any_page_fails(endpoint: Endpoint) -> None:
    response = endpoint.post(tokens.new_secret())

    assert response.status == 403
    assert endpoint.sfn.calls == []


@pytest.mark.parametrize(
    "approval_id",
    [
        APPROVAL_ID[:-1] + ("A" if APPROVAL_ID[-1] != "A" else "B"),
        APPROVAL_ID[:-1],
        APPROVAL_ID + "x",
        "../approvals/" + APPROVAL_ID,
        "",
    ],
    ids=["one-character-changed", "truncated", "extended", "path-trick", "empty"],
)
def test_tampered_id_is_unknown_and_changes_nothing(endpoint: Endpoint, approval_id: str) -> None:
    nonce = nonce_of(endpoint.get())

    shown = endpoint.get(approval_id)
    posted = endpoint.post(nonce, approval_id=approval_id)

    assert (shown.status, posted.status) == (404, 404)
    assert endpoint.sfn.calls == []
    assert endpoint.item()["status"] == {"S": "pending"}


def test_expired_link_shows_expired_and_cannot_be_decided(endpoint: Endpoint) -> None:
    nonce = nonce_of(endpoint.get())
    endpoint.clock.now = NOW + 3600

    shown = endpoint.get()
    posted = endpoint.post(nonce)

    assert (shown.status, posted.status) == (410, 410)
    assert "expired" in posted.body
    assert endpoint.sfn.calls == []
    assert endpoint.item()["status"] == {"S": "pending"}


def test_decision_after_the_workflow_stopped_waiting_is_recorded_as_expired(
    endpoint: Endpoint,
) -> None:
    nonce = nonce_of(endpoint.get())
    endpoint.sfn.error = "TaskTimedOut"

    response = endpoint.post(nonce)

    assert response.status == 410
    item = endpoint.item()
    assert item["status"] == {"S": "expired"}
    assert item["lateDecision"] == {"S": "approved"}
    assert "taskToken" not in item


def test_undeliverable_decision_says_it_will_expire(endpoint: Endpoint) -> None:
    endpoint.sfn.error = "ServiceUnavailable"

    response = endpoint.post(nonce_of(endpoint.get()))

    assert response.status == 502
    assert "expire" in response.body


def test_cross_site_form_post_is_refused_even_with_a_valid_nonce(endpoint: Endpoint) -> None:
    nonce = nonce_of(endpoint.get())
    form = {"decision": "approve", "nonce": nonce}

    response = endpoint.service.handle(
        HttpRequest("POST", APPROVAL_ID, HUMAN, BROWSER, form, fetch_site="cross-site")
    )

    assert response.status == 403
    assert endpoint.sfn.calls == []
    assert endpoint.post(nonce).status == 200  # the same nonce from the page itself works


def test_other_methods_are_refused(endpoint: Endpoint) -> None:
    response = endpoint.service.handle(HttpRequest("DELETE", APPROVAL_ID, HUMAN, BROWSER))

    assert response.status == 405


# ------------------------------------------------------------------ ApproverCidrs


@pytest.mark.parametrize(
    ("source_ip", "allowed"),
    [("203.0.113.5", True), ("198.51.100.7", False), ("2001:db8::1", False), ("junk", False)],
)
def test_approver_cidrs_restrict_who_may_see_and_decide(source_ip: str, allowed: bool) -> None:
    with mock_aws():
        endpoint = make_endpoint(approver_cidrs=("203.0.113.0/24",))

        shown = endpoint.get(ip=source_ip)
        posted = endpoint.post(tokens.new_secret(), ip=source_ip)

    assert (shown.status == 200) is allowed
    if not allowed:
        assert (shown.status, posted.status) == (403, 403)
        assert "SUMMARY" not in shown.body
    assert endpoint.sfn.calls == []


def test_allowed_approver_decides() -> None:
    with mock_aws():
        inside = make_endpoint(approver_cidrs=("198.51.100.0/24",))
        response = inside.post(nonce_of(inside.get()))

    assert response.status == 200
    assert len(inside.sfn.calls) == 1


def test_a_decision_the_workflow_could_not_receive_can_be_made_again(endpoint: Endpoint) -> None:
    endpoint.sfn.error = "ThrottlingException"

    failed = endpoint.post(nonce_of(endpoint.get()))
    endpoint.sfn.error = None
    retried = endpoint.post(nonce_of(endpoint.get()))

    assert failed.status == 502
    assert retried.status == 200
    assert len(endpoint.sfn.calls) == 1
    assert endpoint.item()["status"]["S"] == "approved"
