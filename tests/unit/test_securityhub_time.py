"""Security Hub cannot eat the function's time: its client gives up sooner than the
others (2 attempts, 2 s connect, 5 s read), it is told after every person, and it is
skipped once the send deadline has passed."""

from __future__ import annotations

import socket
import threading
import time
from typing import TYPE_CHECKING, Any

import pytest
from botocore.config import Config

from tests.unit.test_securityhub_sink import ACCOUNT, raised
from trailwarden.dal import clients
from trailwarden.dal.clients import make_client
from trailwarden.models.errors import NotificationFailed
from trailwarden.notify.securityhub import WORST_CASE_SECONDS, SecurityHubClient, SecurityHubSink
from trailwarden.notify.sinks import deliver_all

if TYPE_CHECKING:
    from collections.abc import Iterator

    from trailwarden.notify.sinks import Notice


class HangingEndpoint:
    """Accepts connections, reads the request and never answers."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.server.getsockname()[1]}"
        self.accepted = 0
        self._held: list[socket.socket] = []
        self._stop = threading.Event()
        self.server.settimeout(0.1)
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.accepted += 1
            self._held.append(conn)

    def __enter__(self) -> HangingEndpoint:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        for conn in self._held:
            conn.close()
        self.server.close()


@pytest.fixture
def hanging() -> Iterator[HangingEndpoint]:
    with HangingEndpoint() as endpoint:
        yield endpoint


class Email:
    name = "email"
    limits = SecurityHubSink.limits
    tells_people = True

    def __init__(self) -> None:
        self.sent_at: list[float] = []

    def render(self, notice: Notice) -> Notice:
        return notice

    def deliver(self, rendered: Any) -> str:
        self.sent_at.append(time.monotonic())
        return "sent"


def test_the_security_hub_client_gives_up_sooner_than_the_others() -> None:
    hub = make_client("securityhub", "us-east-1").meta.config
    other = make_client("sns", "us-east-1").meta.config

    assert (hub.connect_timeout, hub.read_timeout) == (2, 5)
    assert hub.retries["total_max_attempts"] == 2  # the first call and one retry
    assert (other.connect_timeout, other.read_timeout) == (3, 10)


def test_a_hanging_security_hub_is_told_last_and_gives_up_within_its_bound(
    hanging: HangingEndpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Security Hub's own config (its attempts) with tiny timeouts, so the test is quick:
    # the timeouts themselves are asserted above.
    real = clients._SERVICE_CONFIGS["securityhub"]
    quick = real.merge(Config(connect_timeout=0.2, read_timeout=0.5))
    monkeypatch.setitem(clients._SERVICE_CONFIGS, "securityhub", quick)
    client = make_client("securityhub", "us-east-1", endpoint_url=hanging.url)
    sink = SecurityHubSink(lambda _f: SecurityHubClient(client, ACCOUNT))
    email = Email()
    started = time.monotonic()

    report = deliver_all(raised(), [email, sink])

    elapsed = time.monotonic() - started
    assert report["email"] == "sent"
    assert email.sent_at[0] - started < 1.0  # before Security Hub started to hang
    assert report["securityhub"].startswith("failed: Security Hub: ")
    assert "Timeout" in report["securityhub"]
    assert hanging.accepted >= 1
    # the default config makes 4 attempts; Security Hub's makes 2 (of 0.5 s reads here)
    assert hanging.accepted == 2
    assert elapsed < 2.4


@pytest.mark.parametrize("left", [-0.5, 0.5, WORST_CASE_SECONDS - 0.1])
def test_security_hub_is_skipped_without_time_for_its_worst_case(left: float) -> None:
    asked: list[object] = []

    def client_for(finding: object) -> SecurityHubClient:
        asked.append(finding)  # organisation mode would assume a role here
        raise AssertionError("must not be reached")

    sink = SecurityHubSink(client_for, deadline=100.0, monotonic=lambda: 100.0 - left)
    email = Email()

    report = deliver_all(raised(), [email, sink])

    assert report["email"] == "sent"
    assert report["securityhub"] == (
        "failed: Security Hub skipped: too little time left before the send deadline"
    )
    assert asked == []


def test_security_hub_with_time_for_its_worst_case_is_called() -> None:
    class Hub:
        def batch_import_findings(self, **_: Any) -> Any:
            return {"FailedCount": 0, "SuccessCount": 1, "FailedFindings": []}

    sink = SecurityHubSink(
        lambda _f: SecurityHubClient(Hub(), ACCOUNT),
        deadline=100.0,
        monotonic=lambda: 100.0 - WORST_CASE_SECONDS,
    )

    assert sink.deliver(sink.render(raised())) == "imported"


def test_a_skipped_security_hub_is_a_notification_failure() -> None:
    sink = SecurityHubSink(lambda _f: SecurityHubClient(None, ACCOUNT), deadline=0.0)

    with pytest.raises(NotificationFailed, match="skipped"):
        sink.deliver(sink.render(raised()))
