"""DiscordWebhook against a real local HTTP stand-in for Discord (DiscordStandIn)."""

from __future__ import annotations

import logging
import time
import urllib.error
import urllib.request
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import pytest

from trailwarden.models.errors import NotificationFailed
from trailwarden.notify.discord import DEFAULT_USER_AGENT, DeliveryResult, DiscordWebhook
from trailwarden_local.discord_standin import DiscordStandIn

if TYPE_CHECKING:
    from collections.abc import Iterator

TOKEN = "tok3n-Sup3rS3cret-abcdefghijklmnopqrstuvwxyz0123456789"
RATE_LIMITED = {"retry_after": 0.05, "global": False, "message": "You are being rate limited."}


class FakeSleep:
    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.fixture
def sink() -> Iterator[DiscordStandIn]:
    with DiscordStandIn(webhook_id="987654321", token=TOKEN) as running:
        yield running


@pytest.fixture
def sleep() -> FakeSleep:
    return FakeSleep()


def webhook(url: str, sleep: FakeSleep, **kwargs: Any) -> DiscordWebhook:
    return DiscordWebhook(url, sleep=sleep, **kwargs)


# --- delivery -----------------------------------------------------------------


def test_message_is_delivered_once_with_mentions_disabled_even_if_caller_allowed_them(
    sink: DiscordStandIn, sleep: FakeSleep
) -> None:
    payload = {"content": "hi @everyone", "allowed_mentions": {"parse": ["everyone"]}}

    result = webhook(sink.url, sleep).post(payload)

    assert result.status == 200
    assert result.attempts == 1
    (received,) = sink.requests
    assert received.method == "POST"
    assert received.json["allowed_mentions"] == {"parse": []}
    assert received.json["content"] == "hi @everyone"
    assert payload["allowed_mentions"] == {"parse": ["everyone"]}, "caller's dict untouched"
    assert sleep.calls == []


def test_request_has_explicit_user_agent_and_json_content_type(
    sink: DiscordStandIn, sleep: FakeSleep
) -> None:
    webhook(sink.url, sleep).post({"content": "x"})

    headers = sink.requests[0].headers
    assert headers["user-agent"] == DEFAULT_USER_AGENT
    assert "python-urllib" not in headers["user-agent"].lower()
    assert headers["content-type"] == "application/json"


def test_custom_user_agent_is_sent(sink: DiscordStandIn, sleep: FakeSleep) -> None:
    webhook(sink.url, sleep, user_agent="custom/1.0").post({"content": "x"})

    assert sink.requests[0].headers["user-agent"] == "custom/1.0"


def test_wait_true_is_requested_and_message_id_returned(
    sink: DiscordStandIn, sleep: FakeSleep
) -> None:
    result = webhook(sink.url, sleep).post({"content": "x"})

    assert sink.requests[0].query == {"wait": ["true"]}
    assert sink.requests[0].path == "/api/webhooks/987654321/" + TOKEN
    assert result.message_id is not None
    assert result.message_id.isdigit()


def test_existing_query_such_as_thread_id_is_kept_and_wait_forced_true(
    sink: DiscordStandIn, sleep: FakeSleep
) -> None:
    webhook(sink.url + "?thread_id=42&wait=false", sleep).post({"content": "x"})

    assert sink.requests[0].query == {"thread_id": ["42"], "wait": ["true"]}


def test_204_without_body_counts_as_delivered_without_message_id(
    sink: DiscordStandIn, sleep: FakeSleep
) -> None:
    sink.respond_with((204, None, None))

    assert webhook(sink.url, sleep).post({"content": "x"}) == DeliveryResult(204, 1, None)


def test_oversized_payload_is_clamped_before_sending(
    sink: DiscordStandIn, sleep: FakeSleep
) -> None:
    embeds = [{"title": "t" * 300, "description": "d" * 5000} for _ in range(12)]

    webhook(sink.url, sleep).post({"content": "c" * 2500, "embeds": embeds})

    sent = sink.requests[0].json
    assert len(sent["content"]) == 2000
    assert len(sent["embeds"]) == 10
    assert all(len(e["title"]) <= 256 for e in sent["embeds"])


# --- rate limits and retries ----------------------------------------------------


def test_429_retry_after_is_honoured_then_message_delivered(
    sink: DiscordStandIn, sleep: FakeSleep
) -> None:
    sink.respond_with((429, RATE_LIMITED, {"Retry-After": "1"}))

    result = webhook(sink.url, sleep).post({"content": "x"})

    assert result.status == 200
    assert result.attempts == 2
    assert len(sink.wait_for(2)) == 2
    assert sleep.calls == [0.05], "the JSON body's float retry_after wins over the header"


def test_429_without_body_falls_back_to_retry_after_header(
    sink: DiscordStandIn, sleep: FakeSleep
) -> None:
    sink.respond_with((429, None, {"Retry-After": "2"}))

    result = webhook(sink.url, sleep).post({"content": "x"})

    assert result.attempts == 2
    assert sleep.calls == [2.0]


def test_429_retry_after_longer_than_max_gives_up_at_once(
    sink: DiscordStandIn, sleep: FakeSleep
) -> None:
    sink.respond_with((429, {**RATE_LIMITED, "retry_after": 120.0}, {"Retry-After": "120"}))

    with pytest.raises(NotificationFailed) as caught:
        webhook(sink.url, sleep, max_retry_after=30.0).post({"content": "x"})

    assert len(sink.requests) == 1
    assert sleep.calls == []
    assert "429" in str(caught.value)
    assert "1 attempt" in str(caught.value)


def test_persistent_429_gives_up_after_max_attempts(sink: DiscordStandIn, sleep: FakeSleep) -> None:
    sink.respond_with(*[(429, RATE_LIMITED, None)] * 3)

    with pytest.raises(NotificationFailed, match=r"3 attempt\(s\).*429"):
        webhook(sink.url, sleep, max_attempts=3).post({"content": "x"})

    assert len(sink.requests) == 3
    assert sleep.calls == [0.05, 0.05]


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_persistent_5xx_gives_up_after_max_attempts_with_exponential_backoff(
    sink: DiscordStandIn, sleep: FakeSleep, status: int
) -> None:
    sink.respond_with(*[(status, None, None)] * 4)

    with pytest.raises(NotificationFailed) as caught:
        webhook(sink.url, sleep, max_attempts=4, backoff_seconds=1.0).post({"content": "x"})

    assert len(sink.requests) == 4
    assert len(sleep.calls) == 3, "no sleep after the last attempt"
    for n, slept in enumerate(sleep.calls):
        assert 2**n <= slept <= 2**n + 1.0, "backoff * 2**n plus jitter of at most backoff"
    assert f"HTTP {status}" in str(caught.value)
    assert "4 attempt" in str(caught.value)


def test_5xx_then_success_is_retried_and_delivered(sink: DiscordStandIn, sleep: FakeSleep) -> None:
    sink.respond_with((502, {"message": "Bad Gateway"}, None))

    result = webhook(sink.url, sleep, backoff_seconds=0.5).post({"content": "x"})

    assert (result.status, result.attempts) == (200, 2)
    assert len(sleep.calls) == 1
    assert 0.5 <= sleep.calls[0] <= 1.0


def test_backoff_never_exceeds_max_retry_after(sink: DiscordStandIn, sleep: FakeSleep) -> None:
    sink.respond_with(*[(500, None, None)] * 5)

    with pytest.raises(NotificationFailed):
        webhook(sink.url, sleep, max_attempts=5, backoff_seconds=10, max_retry_after=15).post(
            {"content": "x"}
        )

    assert all(s <= 15 for s in sleep.calls)


def test_stalled_response_beyond_timeout_is_retried_then_delivered(
    sink: DiscordStandIn, sleep: FakeSleep
) -> None:
    sink.stall_next(0.5)

    result = webhook(sink.url, sleep, timeout=0.2).post({"content": "x"})

    assert (result.status, result.attempts) == (200, 2)
    assert len(sink.wait_for(2)) == 2
    assert len(sleep.calls) == 1


def test_response_stalled_on_every_attempt_fails_with_timeout(
    sink: DiscordStandIn, sleep: FakeSleep
) -> None:
    sink.stall_next(0.5, count=2)

    with pytest.raises(NotificationFailed, match=r"2 attempt\(s\): timeout"):
        webhook(sink.url, sleep, timeout=0.2, max_attempts=2).post({"content": "x"})

    assert len(sink.wait_for(2)) == 2


def test_connection_refused_is_retried_then_fails(sleep: FakeSleep) -> None:
    with DiscordStandIn(token=TOKEN) as gone:
        url = gone.url  # the port is closed once the sink stops

    with pytest.raises(NotificationFailed, match="connection error") as caught:
        webhook(url, sleep, max_attempts=2).post({"content": "x"})

    assert len(sleep.calls) == 1
    assert TOKEN not in str(caught.value)


# --- final failures -----------------------------------------------------------


def test_404_is_not_retried_and_says_the_webhook_was_deleted(
    sink: DiscordStandIn, sleep: FakeSleep
) -> None:
    sink.respond_with((404, {"message": "Unknown Webhook", "code": 10015}, None))

    with pytest.raises(NotificationFailed) as caught:
        webhook(sink.url, sleep).post({"content": "x"})

    assert len(sink.requests) == 1
    assert sleep.calls == []
    assert "404" in str(caught.value)
    assert "deleted" in str(caught.value)
    assert "10015" in str(caught.value)


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (400, {"message": "Invalid Form Body", "code": 50035}),
        (401, {"message": "Invalid Webhook Token", "code": 50027}),
        (403, None),
        (413, None),
    ],
)
def test_other_4xx_are_not_retried(
    sink: DiscordStandIn, sleep: FakeSleep, status: int, body: dict[str, Any] | None
) -> None:
    sink.respond_with((status, body, None))

    with pytest.raises(NotificationFailed, match=f"HTTP {status}"):
        webhook(sink.url, sleep).post({"content": "x"})

    assert len(sink.requests) == 1
    assert sleep.calls == []


def test_redirect_is_not_followed(sink: DiscordStandIn, sleep: FakeSleep) -> None:
    elsewhere = sink.url.replace(TOKEN, "elsewhere")
    sink.respond_with((307, None, {"Location": elsewhere}))

    with pytest.raises(NotificationFailed, match="redirect"):
        webhook(sink.url, sleep).post({"content": "x"})

    time.sleep(0.05)
    assert [r.path for r in sink.requests] == [sink.path], "body not re-sent to the new location"


# --- secrets ------------------------------------------------------------------

FAILURES: dict[str, tuple[Any, ...]] = {
    "404": ((404, {"message": "Unknown Webhook", "code": 10015}, None),),
    "500s": tuple([(500, None, None)] * 2),
    "429-too-long": ((429, {"retry_after": 999}, None),),
    "discord-echoes-url": ((400, {"message": "bad url {url}", "code": 50035}, None),),
}


@pytest.mark.parametrize("scenario", sorted(FAILURES))
def test_webhook_url_and_token_never_appear_in_errors_or_logs(
    sink: DiscordStandIn,
    sleep: FakeSleep,
    scenario: str,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    url = sink.url
    sink.respond_with(*[(s, _fill(b, url), h) for s, b, h in FAILURES[scenario]])

    with pytest.raises(NotificationFailed) as caught:
        webhook(url, sleep, max_attempts=2).post({"content": "x"})

    captured = capsys.readouterr()
    texts = [str(caught.value), repr(caught.value), captured.out, captured.err, caplog.text]
    texts += [r.getMessage() for r in caplog.records]
    texts += [repr(vars(r)) for r in caplog.records]
    assert caplog.records, "the failure is logged"
    for blob in texts:
        assert TOKEN not in blob
        assert url not in blob
        assert sink.path not in blob


def _fill(body: dict[str, Any] | None, url: str) -> dict[str, Any] | None:
    if body is None:
        return None
    return {k: v.format(url=url) if isinstance(v, str) else v for k, v in body.items()}


def test_repr_does_not_reveal_the_url(sink: DiscordStandIn) -> None:
    assert TOKEN not in repr(DiscordWebhook(sink.url))


@pytest.mark.parametrize(
    "url",
    [
        f"http://discord.com/api/webhooks/1/{TOKEN}",
        f"http://10.0.0.5/api/webhooks/1/{TOKEN}",
        f"ftp://discord.com/api/webhooks/1/{TOKEN}",
        f"discord.com/api/webhooks/1/{TOKEN}",
        f"https://user:{TOKEN}@discord.com/api/webhooks/1/x",
        f"https:///api/webhooks/1/{TOKEN}",
        f"https://discord.com:99999/api/webhooks/1/{TOKEN}",
        f"https://discord.com/api/webhooks/1/{TOKEN}\n",
    ],
)
def test_insecure_or_malformed_url_is_rejected_without_echoing_it(url: str) -> None:
    with pytest.raises(ValueError, match="https") as caught:
        DiscordWebhook(url)

    assert TOKEN not in str(caught.value)


@pytest.mark.parametrize(
    "url",
    [
        f"https://discord.com/api/webhooks/1/{TOKEN}",
        f"https://discord.com/api/webhooks/1/{TOKEN}?thread_id=5",
        f"http://127.0.0.1:8080/api/webhooks/1/{TOKEN}",
        f"http://localhost:8080/api/webhooks/1/{TOKEN}",
    ],
)
def test_https_and_local_http_urls_are_accepted(url: str) -> None:
    DiscordWebhook(url)


# --- the sink itself ----------------------------------------------------------


def test_sink_answers_204_without_wait_and_404_for_unknown_webhooks(sink: DiscordStandIn) -> None:
    no_wait = urllib.request.Request(sink.url, data=b"{}", method="POST")
    with urllib.request.urlopen(no_wait, timeout=2) as response:
        assert response.status == 204
    unknown = urllib.request.Request(sink.url + "x?wait=true", data=b"{}", method="POST")
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(unknown, timeout=2)
    assert caught.value.code == 404
    caught.value.close()
    assert len(sink.wait_for(2)) == 2


def test_sink_wait_for_times_out_when_requests_do_not_arrive(sink: DiscordStandIn) -> None:
    with pytest.raises(TimeoutError):
        sink.wait_for(1, timeout=0.05)


def test_sink_stops_promptly_even_with_a_stalled_response(sleep: FakeSleep) -> None:
    running = DiscordStandIn().start()
    running.stall_next(30)
    with pytest.raises(NotificationFailed):
        webhook(running.url, sleep, timeout=0.2, max_attempts=1).post({"content": "x"})

    started = time.monotonic()
    running.stop()

    assert time.monotonic() - started < 2
    with pytest.raises(RuntimeError):
        _ = running.url


def test_sink_clear_forgets_requests_and_queued_responses(
    sink: DiscordStandIn, sleep: FakeSleep
) -> None:
    sink.respond_with((500, None, None))
    sink.clear()

    assert webhook(sink.url, sleep).post({"content": "x"}).attempts == 1
    sink.clear()
    assert sink.requests == []


def test_429_with_unreadable_retry_after_falls_back_to_backoff(
    sink: DiscordStandIn, sleep: FakeSleep
) -> None:
    sink.respond_with((429, None, {"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}))

    result = webhook(sink.url, sleep, backoff_seconds=0.5).post({"content": "x"})

    assert result.attempts == 2
    assert len(sleep.calls) == 1
    assert 0.5 <= sleep.calls[0] <= 1.0


# --- total deadlines (a response trickled one byte at a time) ---------------------

TRICKLE = 0.05  # one byte every 50 ms: never trips a per-read timeout; ~25 s in all


def test_a_trickled_response_is_cut_at_the_attempt_deadline(
    sink: DiscordStandIn, sleep: FakeSleep
) -> None:
    sink.trickle_next(TRICKLE)
    started = time.monotonic()

    with pytest.raises(NotificationFailed, match="timeout"):
        webhook(sink.url, sleep, timeout=0.5, max_attempts=1).post({"content": "x" * 300})

    assert time.monotonic() - started < 3.0  # the whole response would take ~25 s
    assert len(sink.requests) == 1


def test_the_whole_send_ends_by_the_callers_deadline(sink: DiscordStandIn) -> None:
    sink.trickle_next(TRICKLE, count=3)
    started = time.monotonic()

    with pytest.raises(NotificationFailed, match="deadline"):
        DiscordWebhook(
            sink.url, timeout=5.0, max_attempts=3, backoff_seconds=0.2, deadline=started + 0.8
        ).post({"content": "x" * 300})

    assert time.monotonic() - started < 3.0
    assert len(sink.requests) == 1  # no retry was started that could not finish in time


def test_nothing_is_sent_once_the_deadline_has_passed(
    sink: DiscordStandIn, sleep: FakeSleep
) -> None:
    with pytest.raises(NotificationFailed, match="no time left"):
        webhook(sink.url, sleep, deadline=time.monotonic() - 1).post({"content": "late"})

    assert sink.requests == []


def test_a_trickling_discord_is_cut_and_the_email_still_goes(sink: DiscordStandIn) -> None:
    import json

    import boto3
    from moto import mock_aws

    from trailwarden.models.findings import Finding, Severity, Verdict
    from trailwarden.notify.email import EmailSink
    from trailwarden.notify.embeds import DiscordSink as DiscordWebhookSink
    from trailwarden.notify.messages import detected
    from trailwarden.notify.sinks import Notice, deliver_all

    finding = Finding(
        workflow="ami-exposure",
        event_id="e-1",
        event_name="ModifyImageAttribute",
        event_time="2026-11-24T02:15:30Z",
        region="us-east-1",
        account="123456789012",
        verdict=Verdict.REMEDIATE,
        severity=Severity.CRITICAL,
        reason="AMI made public",
        resource_type="AWS::EC2::Image",
        resource_id="ami-1",
        actor={"type": "IAMUser", "arn": "arn:aws:iam::123456789012:user/alice"},
    )
    sink.trickle_next(TRICKLE, count=4)
    with mock_aws():
        sns = boto3.client("sns", region_name="us-east-1")
        sqs = boto3.client("sqs", region_name="us-east-1")
        topic = sns.create_topic(Name="alerts")["TopicArn"]
        queue = sqs.create_queue(QueueName="inbox")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn["Attributes"]["QueueArn"])
        started = time.monotonic()

        delivery = deliver_all(
            Notice(detected(finding, "en", ZoneInfo("UTC")), finding, "raised", "remediate"),
            [
                EmailSink(sns, topic),
                DiscordWebhookSink(DiscordWebhook(sink.url, timeout=0.4, deadline=started + 1.0)),
            ],
        )

        elapsed = time.monotonic() - started
        received = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]

    assert delivery["email"] == "sent"
    assert delivery["discord"].startswith("failed")
    assert elapsed < 3.0
    assert "AMI made public" in json.loads(received[0]["Body"])["Message"]


def _self_signed(directory: Any) -> tuple[str, str]:
    """A localhost certificate and key (cryptography comes with moto)."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(cert_path), str(key_path)


def test_over_tls_a_trickled_response_is_cut_too(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch, sleep: FakeSleep
) -> None:
    import ssl

    from trailwarden.notify import webhook as transport

    cert, key = _self_signed(tmp_path)
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert, key)
    trusted = ssl.create_default_context
    monkeypatch.setattr(transport.ssl, "create_default_context", lambda: trusted(cafile=cert))
    with DiscordStandIn(tls=tls) as sink:
        url = sink.url.replace("http://127.0.0.1", "https://localhost")
        delivered = webhook(url, sleep, timeout=0.5, max_attempts=1).post({"content": "hi"})
        sink.trickle_next(TRICKLE)
        started = time.monotonic()

        with pytest.raises(NotificationFailed, match="timeout"):
            webhook(url, sleep, timeout=0.5, max_attempts=1).post({"content": "x" * 300})

        assert time.monotonic() - started < 3.0
    assert delivered.status == 200
