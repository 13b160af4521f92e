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
from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError
from moto import mock_aws

from trailwarden.approvals import page, tokens
from trailwarden.approvals.service import ApprovalService, HttpRequest
from trailwarden.approvals.store import ApprovalStore, NewApproval
from trailwarden.models.settings import ApprovalSettings

if TYPE_CHECKING:
    from collections.abc import Iterator

TABLE = "approvals"
TOKEN = "AQCEAAAAKgAAAAMAAAAAAAAAAToken" + "x" * 200
APPROVAL_ID = tokens.new_secret()
NOW = 1_795_000_000
HUMAN = "198.51.100.7"
EXECUTION = "arn:aws:states:us-east-1:123456789012:execution:sm:run-1"
API_HOST = "abc123.execute-api.us-east-1.amazonaws.com"
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
    transport_error: Exception | None = None  # no answer at all (the call may have landed)
    attempts: int = 0

    def send_task_success(self, **kwargs: Any) -> dict[str, Any]:
        self.attempts += 1
        if self.error:
            raise ClientError({"Error": {"Code": self.error, "Message": "no"}}, "SendTaskSuccess")
        if self.transport_error is not None:
            raise self.transport_error
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
        **headers: str,
    ) -> page.Page:
        form = {"decision": decision, "nonce": nonce or ""}
        return self.service.handle(
            HttpRequest("POST", approval_id, ip, BROWSER, form, host=API_HOST, **headers)
        )

    def item(self, approval_id: str = APPROVAL_ID) -> dict[str, Any]:
        key = {"pk": {"S": tokens.digest(approval_id)}}
        return dict(self.ddb.get_item(TableName=TABLE, Key=key)["Item"])

    def add_request(
        self, approval_id: str, execution: str = EXECUTION, created_at: int = NOW
    ) -> None:
        self.store.create(new_approval(approval_id, execution, created_at))


def nonce_of(response: page.Page) -> str:
    found = re.search(r'name="nonce" value="([^"]+)"', response.body)
    assert found, response.body
    return found.group(1)


def new_approval(
    approval_id: str, execution: str = EXECUTION, created_at: int = NOW
) -> NewApproval:
    return NewApproval(
        id_hash=tokens.digest(approval_id),
        task_token=TOKEN,
        summary=SUMMARY,
        workflow="waf-protected-ip",
        event_id="e-1",
        execution_id=execution,
        created_at=created_at,
        expires_at=NOW + 3600,
        purge_at=NOW + 3600 + 7 * 86400,
        nonce_key=tokens.new_secret(),
    )


def make_endpoint(approver_cidrs: tuple[str, ...] = ()) -> Endpoint:
    ddb = boto3.client("dynamodb", region_name="us-east-1")
    ddb.create_table(
        TableName=TABLE,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
    )
    store = ApprovalStore(ddb, TABLE)
    store.create(new_approval(APPROVAL_ID))
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


def test_get_never_decides_nor_writes_however_often_it_is_fetched(endpoint: Endpoint) -> None:
    before = endpoint.item()

    pages = [endpoint.get() for _ in range(30)]

    assert {p.status for p in pages} == {200}
    assert endpoint.sfn.calls == []
    assert endpoint.item() == before  # pending, token kept, nothing remembered per page


def test_the_humans_first_page_still_approves_after_thirty_unfurler_gets(
    endpoint: Endpoint,
) -> None:
    humans_page = endpoint.get()
    for _ in range(30):  # mail scanners, Slackbot, Discordbot...
        endpoint.get(ip="203.0.113.99")

    response = endpoint.post(nonce_of(humans_page), "approve")

    assert response.status == 200
    assert "Approved" in response.body
    assert len(endpoint.sfn.calls) == 1
    assert endpoint.item()["status"] == {"S": "approved"}


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
    assert headers["Referrer-Policy"] == "same-origin"  # no Referer leaves the origin
    assert headers["X-Frame-Options"] == "DENY"
    csp = headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp
    assert "default-src 'none'" in csp
    assert "form-action 'self'" in csp
    assert "script-src" not in csp  # no script may run at all (default-src 'none')


def test_neither_the_nonce_nor_its_key_is_shown_or_stored_where_it_should_not_be(
    endpoint: Endpoint,
) -> None:
    body = endpoint.get().body
    nonce = nonce_of(endpoint.get())

    key = endpoint.item()["nonceKey"]["S"]
    assert key not in body
    assert nonce not in json.dumps(endpoint.item())
    assert tokens.well_formed(nonce)


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


# ------------------------------------------------------------------ stateless nonces


def test_a_nonce_of_another_request_does_not_decide_this_one(endpoint: Endpoint) -> None:
    other = tokens.new_secret()
    endpoint.add_request(other, execution="arn:aws:states:us-east-1:1:execution:sm:other")
    foreign = nonce_of(endpoint.get(other))

    response = endpoint.post(foreign)

    assert response.status == 403
    assert endpoint.sfn.calls == []
    assert endpoint.item()["status"] == {"S": "pending"}
    assert endpoint.item(other)["status"] == {"S": "pending"}


def test_a_nonce_made_for_another_expiry_does_not_decide(endpoint: Endpoint) -> None:
    key = endpoint.item()["nonceKey"]["S"]
    forged = tokens.page_nonce(key, tokens.digest(APPROVAL_ID), NOW + 7200)

    response = endpoint.post(forged)

    assert response.status == 403
    assert endpoint.sfn.calls == []


def test_concurrent_posts_with_the_same_page_decide_once(
    endpoint: Endpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading
    from concurrent.futures import ThreadPoolExecutor

    # DynamoDB applies a conditional write to one item atomically; moto's in-process
    # backend does not (two threads can both pass the condition), so the writes of this
    # test's client are serialised as DynamoDB's are.
    one_at_a_time = threading.Lock()
    update_item = endpoint.ddb.update_item

    def atomic_update_item(**kwargs: Any) -> Any:
        with one_at_a_time:
            return update_item(**kwargs)

    monkeypatch.setattr(endpoint.ddb, "update_item", atomic_update_item)
    nonce = nonce_of(endpoint.get())

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = sorted(
            r.status for r in pool.map(lambda d: endpoint.post(nonce, d), ["approve", "reject"] * 4)
        )

    assert statuses.count(200) == 1
    assert set(statuses) == {200, 409}
    assert len(endpoint.sfn.calls) == 1


def test_a_request_stored_before_nonce_keys_existed_still_works(endpoint: Endpoint) -> None:
    key = {"pk": {"S": tokens.digest(APPROVAL_ID)}}
    endpoint.ddb.update_item(TableName=TABLE, Key=key, UpdateExpression="REMOVE nonceKey")

    first, second = endpoint.get(), endpoint.get()
    response = endpoint.post(nonce_of(first))

    assert nonce_of(first) == nonce_of(second)
    assert response.status == 200
    assert len(endpoint.sfn.calls) == 1


# ------------------------------------------------------------------ Origin


@pytest.mark.parametrize(
    "headers",
    [
        {"origin": "https://evil.example", "fetch_site": "cross-site"},
        {"origin": "https://evil.example"},  # a browser without Fetch Metadata
        {"origin": "https://evil.example", "fetch_site": "same-origin"},  # spoof attempt
        {"origin": f"http://{API_HOST}"},  # our host, but not https
        {"origin": f"https://{API_HOST}.evil.example"},
        {"origin": "null"},  # a sandboxed frame of any site
        {"origin": "null", "fetch_site": "cross-site"},
        {"fetch_site": "same-site"},  # another subdomain of the same site
        {"fetch_site": "same-origin"},  # Fetch Metadata but no Origin: not a browser
    ],
    ids=[
        "foreign",
        "foreign-no-fetch-metadata",
        "foreign-claiming-same-origin",
        "own-host-over-http",
        "lookalike-host",
        "null-alone",
        "null-cross-site",
        "same-site",
        "fetch-metadata-without-origin",
    ],
)
def test_a_post_from_a_foreign_origin_is_refused_even_with_a_valid_nonce(
    endpoint: Endpoint, headers: dict[str, str]
) -> None:
    nonce = nonce_of(endpoint.get())

    response = endpoint.post(nonce, **headers)

    assert response.status == 403
    assert endpoint.sfn.calls == []
    assert endpoint.item()["status"] == {"S": "pending"}


@pytest.mark.parametrize(
    "headers",
    [
        {"origin": f"https://{API_HOST}", "fetch_site": "same-origin"},
        {"origin": f"https://{API_HOST.upper()}"},
        {"origin": "null", "fetch_site": "same-origin"},  # a page under no-referrer
        {},  # an old browser that sends neither
    ],
    ids=["own-origin", "own-origin-no-fetch-metadata", "null-same-origin", "neither"],
)
def test_a_post_from_the_page_itself_decides(endpoint: Endpoint, headers: dict[str, str]) -> None:
    response = endpoint.post(nonce_of(endpoint.get()), **headers)

    assert response.status == 200
    assert len(endpoint.sfn.calls) == 1


def test_the_local_server_origin_over_http_on_loopback_is_its_own() -> None:
    with mock_aws():
        endpoint = make_endpoint()
        nonce = nonce_of(endpoint.get())
        form = {"decision": "approve", "nonce": nonce}

        response = endpoint.service.handle(
            HttpRequest(
                "POST",
                APPROVAL_ID,
                "127.0.0.1",
                BROWSER,
                form,
                fetch_site="same-origin",
                origin="http://127.0.0.1:8123",
                host="127.0.0.1:8123",
            )
        )

    assert response.status == 200


# ------------------------------------------------------------------ delivery unknown


@pytest.mark.parametrize(
    "error",
    [
        ReadTimeoutError(endpoint_url="https://states.us-east-1.amazonaws.com"),
        EndpointConnectionError(endpoint_url="https://states.us-east-1.amazonaws.com"),
    ],
    ids=["read-timeout", "connection-error"],
)
def test_an_unanswered_delivery_is_recorded_and_reported_truthfully(
    endpoint: Endpoint, error: Exception
) -> None:
    endpoint.sfn.transport_error = error

    response = endpoint.post(nonce_of(endpoint.get()), "approve")

    assert response.status == 202
    assert "delivery to the workflow could not be confirmed" in response.body
    assert "Nothing will be changed" not in response.body
    item = endpoint.item()
    assert item["status"] == {"S": "approved"}  # not reopened
    assert "deliveryUnknownAt" in item
    assert item["taskToken"] == {"S": TOKEN}  # kept for a re-delivery


def test_after_an_unanswered_delivery_a_second_person_cannot_decide(endpoint: Endpoint) -> None:
    endpoint.sfn.transport_error = ReadTimeoutError(endpoint_url="https://states")
    endpoint.post(nonce_of(endpoint.get()), "approve")
    endpoint.sfn.transport_error = None

    second = endpoint.post(nonce_of(endpoint.get(ip="198.51.100.8")), "reject", ip="198.51.100.8")

    assert second.status == 409
    assert "already approved" in second.body
    assert "could not be confirmed" in second.body
    assert endpoint.sfn.attempts == 1  # nothing sent for the second person
    assert endpoint.item()["status"] == {"S": "approved"}


def test_a_redelivery_told_the_token_is_spent_reads_as_already_decided(
    endpoint: Endpoint,
) -> None:
    endpoint.sfn.transport_error = ReadTimeoutError(endpoint_url="https://states")
    unconfirmed = endpoint.post(nonce_of(endpoint.get()), "approve")
    endpoint.sfn.transport_error = None
    endpoint.sfn.error = "InvalidToken"  # the first SendTaskSuccess had landed

    again = endpoint.post(nonce_of(unconfirmed), "redeliver")

    assert again.status == 409
    assert "already approved" in again.body
    assert "could not be confirmed" not in again.body
    item = endpoint.item()
    assert item["status"] == {"S": "approved"}  # never "expired" while remediation runs
    assert "deliveredAt" in item
    assert "taskToken" not in item


def test_a_redelivery_hands_over_the_recorded_decision(endpoint: Endpoint) -> None:
    endpoint.sfn.transport_error = EndpointConnectionError(endpoint_url="https://states")
    endpoint.post(nonce_of(endpoint.get()), "reject")
    endpoint.sfn.transport_error = None
    page_now = endpoint.get()  # the decided page offers to deliver it again

    again = endpoint.post(nonce_of(page_now), "redeliver")

    assert page_now.status == 409
    assert again.status == 200
    (call,) = endpoint.sfn.calls
    assert call["taskToken"] == TOKEN
    assert json.loads(call["output"])["status"] == "rejected"
    assert json.loads(call["output"])["sourceIp"] == HUMAN
    assert "taskToken" not in endpoint.item()


def test_no_redelivery_once_the_link_expired(endpoint: Endpoint) -> None:
    endpoint.sfn.transport_error = ReadTimeoutError(endpoint_url="https://states")
    nonce = nonce_of(endpoint.get())
    endpoint.post(nonce, "approve")
    endpoint.sfn.transport_error = None
    endpoint.clock.now = NOW + 3600

    shown = endpoint.get()
    again = endpoint.post(nonce, "redeliver")

    assert "<form" not in shown.body
    assert again.status == 409
    assert endpoint.sfn.calls == []


# ------------------------------------------------------------------ superseded


def test_an_older_link_of_a_retried_request_reads_as_superseded(endpoint: Endpoint) -> None:
    old_page = endpoint.get()
    newer = tokens.new_secret()
    endpoint.add_request(newer, created_at=NOW + 5)  # RequestApproval ran again

    shown = endpoint.get()
    posted = endpoint.post(nonce_of(old_page), "approve")

    assert (shown.status, posted.status) == (410, 410)
    assert "newer approval request replaced this one" in shown.body
    assert "<form" not in shown.body
    assert endpoint.sfn.calls == []
    assert endpoint.item()["status"] == {"S": "superseded"}
    assert endpoint.get(newer).status == 200  # the newest link still decides
    assert endpoint.post(nonce_of(endpoint.get(newer)), approval_id=newer).status == 200


def test_a_decision_racing_a_retry_reads_as_superseded(endpoint: Endpoint) -> None:
    nonce = nonce_of(endpoint.get())
    endpoint.sfn.error = "InvalidToken"  # the retry replaced the token meanwhile
    original = endpoint.store.decide

    def decide_then_retry(*args: Any, **kwargs: Any) -> Any:
        result = original(*args, **kwargs)
        endpoint.add_request(tokens.new_secret(), created_at=NOW + 5)
        return result

    endpoint.store.decide = decide_then_retry  # type: ignore[method-assign]

    response = endpoint.post(nonce)

    assert response.status == 410
    assert "newer approval request" in response.body
    assert endpoint.item()["status"] == {"S": "superseded"}


def test_the_page_read_leaves_the_task_token_out(endpoint: Endpoint) -> None:
    calls: list[dict[str, Any]] = []
    endpoint.ddb.meta.events.register(
        "provide-client-params.dynamodb.GetItem", lambda params, **_: calls.append(params)
    )

    record = endpoint.store.get(tokens.digest(APPROVAL_ID))
    endpoint.get()

    assert record is not None
    assert record.task_token is None
    assert endpoint.item()["taskToken"] == {"S": TOKEN}  # still stored, just not read
    reads = [c for c in calls if c["Key"]["pk"]["S"] == tokens.digest(APPROVAL_ID)]
    assert reads
    assert all("taskToken" not in c["ProjectionExpression"] for c in reads[:2])
