"""A careless parameter is skipped with a warning, in the direction that fails safe."""

from __future__ import annotations

import io
import ipaddress
import logging
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from trailwarden.models.findings import Mode
from trailwarden.models.settings import (
    STATE_WARNINGS_KEY,
    ApprovalSettings,
    DetectionSettings,
    NotifySettings,
    StoreSettings,
    approval_timeout,
    merge_warnings,
    state_warnings,
)
from trailwarden.notify import email
from trailwarden.notify.embeds import discord_payload
from trailwarden.notify.messages import SETTINGS_WARNING_LABEL, Message, with_settings_warnings


@pytest.mark.parametrize(
    ("value", "kept"),
    [
        pytest.param("10.0.0.0/7,203.0.113.10", ["203.0.113.10/32"], id="wider-than-slash-8"),
        pytest.param("203.0.113.300,198.51.100.7", ["198.51.100.7/32"], id="octet-over-255"),
        pytest.param("203.0.113.10/33", [], id="prefix-over-32"),
        pytest.param("/33", [], id="prefix-alone"),
        pytest.param("203.0.113.10/0", [], id="slash-0"),
        pytest.param("::/0,2001:db8::/31,2001:db8::1", ["2001:db8::1/128"], id="ipv6-too-wide"),
        pytest.param("fe80::1%eth0/128,2001:db8::1", ["2001:db8::1/128"], id="ipv6-scope-id"),
    ],
)
def test_bad_protected_ip_entry_is_skipped_with_a_warning(value: str, kept: list[str]) -> None:
    settings = DetectionSettings.from_env({"PROTECTED_IP_CIDRS": value})

    assert [str(n) for n in settings.protected_ip_cidrs] == kept
    assert settings.warnings
    assert all(w.startswith("ProtectedIpCidrs: skipped") for w in settings.warnings)


def test_port_over_65535_is_skipped_and_the_others_still_allowed() -> None:
    settings = DetectionSettings.from_env({"ALLOWED_PUBLIC_PORTS": "80,99999,443,http,²"})

    assert settings.allowed_public_ports == frozenset({80, 443})
    assert len(settings.warnings) == 3
    assert "'99999'" in settings.warnings[0]


def test_malformed_trusted_account_and_exempt_group_ids_are_skipped() -> None:
    settings = DetectionSettings.from_env(
        {
            "TRUSTED_ACCOUNT_IDS": "111111111111,12345,222222222222",
            "EXEMPT_SECURITY_GROUP_IDS": "sg-0123456789abcdef0,sg-NOPE",
        }
    )

    assert settings.trusted_account_ids == frozenset({"111111111111", "222222222222"})
    assert settings.exempt_security_group_ids == frozenset({"sg-0123456789abcdef0"})
    assert [w.split(":")[0] for w in settings.warnings] == [
        "TrustedAccountIds",
        "ExemptSecurityGroupIds",
    ]


def test_unknown_mode_only_alerts() -> None:
    settings = DetectionSettings.from_env({"MODE_SG_OPEN_INGRESS": "sometimes"})

    assert settings.mode("sg-open-ingress") is Mode.ALERT
    assert settings.mode("ami-exposure") is Mode.REMEDIATE
    assert settings.warnings == ("SgOpenIngressMode: 'sometimes' is not a mode; only alerting",)


def test_good_parameters_give_no_warning() -> None:
    env = {
        "PROTECTED_IP_CIDRS": "203.0.113.10,198.51.100.0/24",
        "ALLOWED_PUBLIC_PORTS": "80,443",
        "TRUSTED_ACCOUNT_IDS": "111111111111",
        "LANGUAGE": "ko",
        "TIME_ZONE": "Asia/Seoul",
        "APPROVER_CIDRS": "192.0.2.0/24",
        "APPROVAL_TIMEOUT_SECONDS": "600",
    }

    assert DetectionSettings.from_env(env).warnings == ()
    assert NotifySettings.from_env(env).warnings == ()
    assert ApprovalSettings.from_env(env).warnings == ()


@pytest.mark.parametrize(
    "zone", ["Asia/Seol", "../../etc/passwd", "America", "Zulu\x00", "A" * 300]
)
def test_unknown_time_zone_falls_back_to_utc_and_says_so(zone: str) -> None:
    settings = NotifySettings.from_env({"TIME_ZONE": zone})

    assert settings.time_zone == "UTC"
    assert settings.zone.key == "UTC"
    assert len(settings.warnings) == 1
    assert settings.warnings[0].startswith("TimeZone:")
    assert "UTC" in settings.warnings[0]


def test_unknown_language_falls_back_to_english() -> None:
    settings = NotifySettings.from_env({"LANGUAGE": "fr"})

    assert settings.language == "en"
    assert settings.warnings == ("Language: 'fr' is not en or ko; writing English",)


def test_empty_language_and_time_zone_take_the_defaults_silently() -> None:
    settings = NotifySettings.from_env({"LANGUAGE": "", "TIME_ZONE": ""})

    assert (settings.language, settings.time_zone, settings.warnings) == ("en", "Asia/Seoul", ())


@pytest.mark.parametrize("value", ["0.0.0.0/0", "10.0.0.0/7,203.0.113.300", "not-a-cidr"])
def test_approver_cidrs_with_no_usable_entry_lets_nobody_decide(value: str) -> None:
    settings = ApprovalSettings.from_env({"APPROVER_CIDRS": value})

    assert settings.approver_cidrs == ()
    assert settings.approver_cidrs_invalid
    assert any("nobody may decide" in w for w in settings.warnings)


def test_approver_cidrs_with_one_usable_entry_keeps_it() -> None:
    settings = ApprovalSettings.from_env({"APPROVER_CIDRS": "0.0.0.0/0,192.0.2.0/24"})

    assert settings.approver_cidrs == (ipaddress.ip_network("192.0.2.0/24"),)
    assert not settings.approver_cidrs_invalid
    assert len(settings.warnings) == 1


def test_empty_approver_cidrs_still_means_anyone_with_the_link() -> None:
    settings = ApprovalSettings.from_env({"APPROVER_CIDRS": ""})

    assert (settings.approver_cidrs, settings.approver_cidrs_invalid) == ((), False)
    assert settings.warnings == ()


@pytest.mark.parametrize("value", ["0", "-5", "soon", "١٢"])
def test_unusable_approval_timeout_takes_the_default(value: str) -> None:
    warnings: list[str] = []

    timeout = approval_timeout({"APPROVAL_TIMEOUT_SECONDS": value}, warnings)

    assert timeout == 3600
    assert warnings[0].startswith("ApprovalTimeoutSeconds:")


def test_internal_knobs_still_refuse_bad_values() -> None:
    with pytest.raises(ValueError, match="24 hours"):
        StoreSettings.from_env({"DEDUPE_TTL_SECONDS": "60"})
    with pytest.raises(ValueError):
        NotifySettings.from_env({"WEBHOOK_MAX_ATTEMPTS": "many"})


def test_a_long_or_hostile_entry_is_quoted_short_and_escaped() -> None:
    settings = DetectionSettings.from_env({"PROTECTED_IP_CIDRS": "\u202e" + "9" * 500})

    (warning,) = settings.warnings
    assert len(warning) < 120
    assert "\u202e" not in warning
    assert "\\u202e" in warning


def test_each_warning_is_logged_when_settings_are_built(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)

    NotifySettings.from_env({"TIME_ZONE": "Asia/Seol"})

    assert [r.getMessage() for r in caplog.records] == ["settings warning"]


def test_warnings_are_merged_once_in_order_and_read_back_from_the_state() -> None:
    state = {STATE_WARNINGS_KEY: ["a", "b", 3, {"x": 1}], "workflow": "sg-open-ingress"}

    assert state_warnings(state) == ("a", "b")
    assert state_warnings({STATE_WARNINGS_KEY: "a"}) == ()
    assert state_warnings(None) == ()
    assert merge_warnings(("a", "b"), ["b", "c"]) == ("a", "b", "c")


def _message() -> Message:
    return Message(
        severity="high",  # type: ignore[arg-type]
        colour=0,
        title="t",
        summary="s",
        fields=(("Workflow", "sg-open-ingress"),),
        footer="f",
    )


def test_settings_warning_is_one_more_line_in_email_and_discord() -> None:
    warning = "TimeZone: 'Asia/Seol' is not a known time zone; times are in UTC"

    message = with_settings_warnings(_message(), [warning])

    assert f"{SETTINGS_WARNING_LABEL} : {warning}" in email.body(message)
    first = discord_payload(message)["embeds"][0]["fields"][0]
    assert first["name"] == SETTINGS_WARNING_LABEL
    assert "Asia/Seol" in first["value"]


def test_settings_warning_survives_a_message_with_every_field_used() -> None:
    full = Message(**{**_message().__dict__, "fields": tuple((f"f{i}", "v") for i in range(30))})

    fields = discord_payload(with_settings_warnings(full, ["Language: 'fr'"]))["embeds"][0]

    assert fields["fields"][0]["name"] == SETTINGS_WARNING_LABEL


def test_no_warning_leaves_the_message_alone() -> None:
    assert with_settings_warnings(_message(), ()) == _message()


def test_replay_refuses_a_careless_override_the_template_would_refuse() -> None:
    from tests.conftest import EVENTS
    from trailwarden_local.replay import run

    out, err = io.StringIO(), io.StringIO()

    status = run(
        [str(EVENTS / "sg-open-ingress" / "ssh-world-nested.json")],
        overrides=["AllowedPublicPorts=80,443,99999"],
        out=out,
        err=err,
        threads=False,
    )

    assert status == 2
    assert out.getvalue() == ""
    assert "AllowedPublicPorts" in err.getvalue()


class _NoCalls:
    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"{name} was called")


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_unusable_approver_cidrs_answer_403_before_reading_anything(method: str) -> None:
    from trailwarden.approvals import tokens
    from trailwarden.approvals.service import ApprovalService, HttpRequest

    service = ApprovalService(
        store=_NoCalls(),  # type: ignore[arg-type]
        sfn=_NoCalls(),
        settings=ApprovalSettings.from_env({"APPROVER_CIDRS": "0.0.0.0/0"}),
        language="en",
        zone=ZoneInfo("UTC"),
    )
    request = HttpRequest(method, tokens.new_secret(), "192.0.2.1", "a browser")

    response = service.handle(request)

    assert response.status == 403
    assert "approver network setting is invalid" in response.to_http_api()["body"]


@pytest.mark.parametrize(
    ("outcome", "mode", "verdict"),
    [
        ("act", "remediate", "remediate"),
        ("act", "approval", "approval"),
        ("act", "alert", "alert"),
        ("act", "off", "ignore"),
        ("alert", "remediate", "alert"),
        ("alert", "approval", "alert"),
        ("alert", "alert", "alert"),
        ("alert", "off", "ignore"),
        ("ignore", "remediate", "ignore"),
        ("ignore", "approval", "ignore"),
        ("ignore", "alert", "ignore"),
        ("ignore", "off", "ignore"),
    ],
)
def test_the_mode_turns_each_outcome_into_its_verdict(
    outcome: str, mode: str, verdict: str
) -> None:
    from trailwarden.models.findings import Outcome, Verdict, effective_verdict

    assert effective_verdict(Outcome(outcome), Mode(mode)) is Verdict(verdict)
