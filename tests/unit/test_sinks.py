"""The sinks the settings choose, in their order, and deliver_all: one sink failing or
hanging never stops the others, and every report names all five sinks."""

from __future__ import annotations

import sys
import time
import types
from dataclasses import replace
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import pytest

from handlers._notify_deps import NotifyDeps, build_notify_deps
from tests.unit.fakes import RecordingSns
from tests.unit.test_notify_messages import finding
from trailwarden.models.errors import NotificationFailed
from trailwarden.models.settings import NotifySettings
from trailwarden.notify import messages
from trailwarden.notify.sinks import SINK_NAMES, Notice, UnavailableSink, deliver_all, fit
from trailwarden_local.chat_standins import SlackStandIn, TeamsStandIn
from trailwarden_local.discord_standin import DiscordStandIn

if TYPE_CHECKING:
    from collections.abc import Iterator

    from trailwarden.models.findings import Finding

TOPIC = "arn:aws:sns:us-east-1:123456789012:alerts"


class Secrets:
    """Secrets Manager through the Parameters provider's ``get``: name -> value."""

    def __init__(self, values: dict[str, str]) -> None:
        self.values = values
        self.asked: list[str] = []

    def get(self, name: str, max_age: int) -> str:
        self.asked.append(name)
        if name not in self.values:
            raise RuntimeError("ResourceNotFoundException")
        return self.values[name]


def notice() -> Notice:
    found = finding()
    return Notice(messages.detected(found, "en", ZoneInfo("UTC")), found, "raised", "remediate")


def settings(**changes: Any) -> NotifySettings:
    base = NotifySettings(
        topic_arn=TOPIC,
        discord_secret_name="tw/discord",
        slack_secret_name="tw/slack",
        teams_secret_name="tw/teams",
        webhook_max_attempts=2,
        webhook_backoff_seconds=0.01,
        webhook_timeout_seconds=0.4,
        webhook_budget_seconds=0.8,
    )
    return replace(base, **changes)


@pytest.fixture
def webhooks() -> Iterator[tuple[DiscordStandIn, SlackStandIn, TeamsStandIn]]:
    with (
        DiscordStandIn() as discord,
        SlackStandIn() as slack,
        TeamsStandIn() as teams,
    ):
        yield discord, slack, teams


def test_slack_500_and_a_hanging_teams_still_email_and_post_to_discord(
    webhooks: tuple[DiscordStandIn, SlackStandIn, TeamsStandIn],
) -> None:
    discord, slack, teams = webhooks
    slack.fail_with(500)
    teams.hang()
    sns = RecordingSns()
    secrets = Secrets({"tw/discord": discord.url, "tw/slack": slack.url, "tw/teams": teams.url})
    deps = NotifyDeps(settings(), sns, secrets)  # type: ignore[arg-type]
    started = time.monotonic()

    report = deliver_all(notice(), deps.sinks(deadline=started + 10.0))

    elapsed = time.monotonic() - started
    assert list(report) == list(SINK_NAMES)
    assert report["email"] == "sent"
    assert report["discord"] == "sent"
    assert report["slack"].startswith("failed: Slack webhook delivery failed")
    assert "HTTP 500" in report["slack"]
    assert report["teams"].startswith("failed: Teams webhook delivery failed")
    assert report["securityhub"] == "not configured"
    assert len(sns.published) == 1
    assert len(discord.requests) == 1
    assert len(slack.requests) == 2  # retried once, within its budget
    assert elapsed < 2 * 0.8 + 1.0  # each webhook cut at its own budget


def test_a_hanging_slack_cannot_eat_the_time_of_teams(
    webhooks: tuple[DiscordStandIn, SlackStandIn, TeamsStandIn],
) -> None:
    _discord, slack, teams = webhooks
    slack.hang()
    secrets = Secrets({"tw/slack": slack.url, "tw/teams": teams.url})
    # One attempt may take 5 s: only Slack's own budget (0.8 s) stops it before the deadline.
    slow = settings(discord_secret_name="", webhook_timeout_seconds=5.0)
    deps = NotifyDeps(slow, RecordingSns(), secrets)  # type: ignore[arg-type]
    started = time.monotonic()

    # The invocation's deadline leaves room for both; Slack gets only its budget of it.
    report = deliver_all(notice(), deps.sinks(deadline=started + 1.5))

    assert report["slack"].startswith("failed")
    assert report["teams"] == "sent"
    assert len(teams.requests) == 1


def test_sinks_come_in_order_email_discord_slack_teams_then_securityhub(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake = types.ModuleType("trailwarden.notify.securityhub")
    calls: list[Finding] = []

    class SecurityHubSink:
        name = "securityhub"

        def __init__(self, client_for: Any, deadline: float | None = None) -> None:
            self.client_for = client_for
            self.deadline = deadline

    fake.SecurityHubSink = SecurityHubSink  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "trailwarden.notify.securityhub", fake)
    secrets = Secrets(
        dict.fromkeys(("tw/discord", "tw/slack", "tw/teams"), "https://hooks.example/x")
    )
    deps = NotifyDeps(
        settings(security_hub_findings=True),
        RecordingSns(),
        secrets,  # type: ignore[arg-type]
        securityhub_client_for=calls.append,
    )

    sinks = deps.sinks(deadline=123.0)

    assert [s.name for s in sinks] == ["email", "discord", "slack", "teams", "securityhub"]
    hub = sinks[-1]
    assert isinstance(hub, SecurityHubSink)
    assert hub.deadline == 123.0  # skipped once the webhooks' send deadline has passed
    hub.client_for(finding())
    assert calls == [finding()]  # organisation mode's reach, as given


def test_without_the_security_hub_module_its_sink_is_unavailable_and_says_so(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "trailwarden.notify.securityhub", None)  # import fails
    deps = NotifyDeps(
        NotifySettings(topic_arn=TOPIC, security_hub_findings=True), RecordingSns(), None
    )

    email, hub = deps.sinks()
    report = deliver_all(notice(), [email, hub])

    assert isinstance(hub, UnavailableSink)
    assert report["email"] == "sent"
    assert report["securityhub"].startswith("failed: Security Hub unavailable: ")
    assert "Error" in report["securityhub"]


def test_security_hub_off_builds_no_sink_and_reads_no_module() -> None:
    deps = NotifyDeps(NotifySettings(topic_arn=TOPIC), RecordingSns(), None)

    assert [s.name for s in deps.sinks()] == ["email"]


def test_an_unreadable_secret_fails_only_its_own_sink_and_never_shows_the_url() -> None:
    secrets = Secrets({"tw/discord": "https://discord.example/api/webhooks/1/T0KEN"})
    deps = NotifyDeps(settings(), RecordingSns(), secrets)  # type: ignore[arg-type]

    report = deliver_all(notice(), deps.sinks())

    assert report["slack"] == "failed: Slack webhook unavailable: RuntimeError"
    assert report["teams"] == "failed: Teams webhook unavailable: RuntimeError"
    assert report["email"] == "sent"
    assert "T0KEN" not in str(report)


def test_the_approval_request_with_discord_buttons_never_reads_the_webhook_secret() -> None:
    secrets = Secrets({"tw/slack": "https://hooks.slack.example/services/T/B/x"})
    deps = NotifyDeps(settings(teams_secret_name=""), RecordingSns(), secrets)  # type: ignore[arg-type]

    sinks = deps.sinks(without=frozenset({"discord"}))

    assert [s.name for s in sinks] == ["email", "slack"]
    assert secrets.asked == ["tw/slack"]


def test_nothing_delivered_is_a_notification_failure_naming_every_sink() -> None:
    with pytest.raises(NotificationFailed) as caught:
        deliver_all(notice(), [UnavailableSink("slack", "Slack webhook unavailable: X")])

    for name in SINK_NAMES:
        assert name in str(caught.value)


@pytest.mark.parametrize(
    ("value", "on", "warned"),
    [("on", True, False), ("off", False, False), ("", False, False), ("yes", False, True)],
)
def test_security_hub_findings_is_on_or_off_and_anything_else_is_off_with_a_warning(
    value: str, on: bool, warned: bool
) -> None:
    built = NotifySettings.from_env({"SECURITY_HUB_FINDINGS": value})

    assert built.security_hub_findings is on
    assert any("SecurityHubFindings" in w for w in built.warnings) is warned


def test_webhook_secret_names_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    import handlers._notify_deps as module

    monkeypatch.setattr(module, "make_client", lambda service, region=None: service)
    env = {"SLACK_WEBHOOK_SECRET_NAME": "tw/slack", "TEAMS_WEBHOOK_SECRET_NAME": "tw/teams"}

    deps = build_notify_deps(env)

    assert deps.settings.slack_secret_name == "tw/slack"
    assert deps.settings.teams_secret_name == "tw/teams"
    assert deps.secrets is not None  # read through the Parameters cache


def test_fit_cuts_the_longest_texts_first_to_one_length() -> None:
    cut = fit(["a" * 10, "b" * 1000, "c" * 500], 310)

    assert [len(t) for t in cut] == [10, 150, 150]
    assert fit(["short"], 100) == ["short"]
