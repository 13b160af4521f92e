"""The approval pages: HTML with every event string escaped, served with strict headers.

IP set names, descriptions, user agents and ARNs come from whoever made the API call,
so every value from the stored summary goes through :func:`trailwarden.notify.text.plain`
(control, bidi and zero-width characters removed, continuation lines marked, the same
as the email) and then :func:`html.escape`. The pages
load nothing (no script, no images, no external CSS): the Content-Security-Policy
allows only the one inline stylesheet (by hash) and forms posting back to this origin,
and forbids framing. ``Cache-Control: no-store`` keeps the nonce out of caches and
``Referrer-Policy: same-origin`` keeps the link out of Referer headers sent anywhere
else (the pages load and link to nothing); unlike ``no-referrer`` it lets the page's
own POST carry a real ``Origin`` header, which the decision checks (service.py).
"""

from __future__ import annotations

import base64
import hashlib
import html
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from trailwarden.notify import text

if TYPE_CHECKING:
    from collections.abc import Mapping
    from zoneinfo import ZoneInfo

_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem;"
    "color:#1d1d1f;line-height:1.45}"
    "h1{font-size:1.35rem}table{border-collapse:collapse;width:100%;margin:1rem 0}"
    "th,td{text-align:left;vertical-align:top;padding:.35rem .5rem;border-bottom:1px solid #ddd;"
    "white-space:pre-wrap;word-break:break-word}th{width:28%;color:#555;font-weight:600}"
    ".note{background:#f4f6f8;padding:.75rem 1rem;border-radius:6px}"
    ".actions{display:flex;gap:1rem;margin-top:1.5rem}"
    "button{font-size:1rem;padding:.7rem 1.2rem;border-radius:6px;border:1px solid #888;"
    "cursor:pointer}"
    "button.approve{background:#1f7a3a;color:#fff;border-color:#1f7a3a}"
    "button.reject{background:#fff;color:#a11}"
)
_STYLE_HASH = base64.b64encode(hashlib.sha256(_STYLE.encode("utf-8")).digest()).decode("ascii")

CONTENT_SECURITY_POLICY = (
    f"default-src 'none'; style-src 'sha256-{_STYLE_HASH}'; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS: Mapping[str, str] = {
    "Content-Type": "text/html; charset=utf-8",
    "Cache-Control": "no-store",
    "Pragma": "no-cache",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "X-Robots-Tag": "noindex, nofollow",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
}

_TEXT: dict[str, dict[str, str]] = {
    "heading": {"en": "Approval needed", "ko": "승인 필요"},
    "intro": {
        "en": "Opening this page changed nothing. Review what happened, then decide. "
        "The decision is final and can be made once.",
        "ko": "이 페이지를 연 것만으로는 아무것도 바뀌지 않습니다. 내용을 확인한 뒤 결정하세요. "
        "결정은 한 번만 할 수 있으며 되돌릴 수 없습니다.",
    },
    "expires": {"en": "This request expires at", "ko": "요청 만료 시각"},
    "approve": {"en": "Approve: make the change", "ko": "승인: 조치 실행"},
    "reject": {"en": "Reject: change nothing", "ko": "거부: 변경하지 않음"},
    "done.approved": {
        "en": "Approved. The change is being made now; the result will be reported in "
        "Discord and by email.",
        "ko": "승인되었습니다. 지금 조치를 실행하며 결과는 Discord와 이메일로 알려드립니다.",
    },
    "done.rejected": {
        "en": "Rejected. Nothing will be changed; the team will be told.",
        "ko": "거부되었습니다. 아무것도 변경하지 않으며 팀에 알립니다.",
    },
    "decided.approved": {
        "en": "This request was already approved",
        "ko": "이 요청은 이미 승인되었습니다",
    },
    "decided.rejected": {
        "en": "This request was already rejected",
        "ko": "이 요청은 이미 거부되었습니다",
    },
    "at": {"en": "at", "ko": "시각"},
    "from": {"en": "from", "ko": "출발지"},
    "expired": {
        "en": "This request has expired: nothing was changed.",
        "ko": "이 요청은 만료되었습니다. 아무것도 변경되지 않았습니다.",
    },
    "unknown": {
        "en": "This approval link is unknown or has been cleaned up. Nothing was changed.",
        "ko": "알 수 없거나 정리된 승인 링크입니다. 아무것도 변경되지 않았습니다.",
    },
    "forbidden": {
        "en": "Your network address may not decide approval requests. Nothing was changed.",
        "ko": "이 네트워크 주소에서는 승인 요청을 결정할 수 없습니다. 아무것도 변경되지 "
        "않았습니다.",
    },
    "stale": {
        "en": "This page is out of date or was not issued for this request. Open the link "
        "again and decide from the fresh page. Nothing was changed.",
        "ko": "오래되었거나 이 요청용으로 발급되지 않은 페이지입니다. 링크를 다시 열어 새 "
        "페이지에서 결정하세요. 아무것도 변경되지 않았습니다.",
    },
    "bad_request": {
        "en": "That request was not understood. Nothing was changed.",
        "ko": "요청을 이해할 수 없습니다. 아무것도 변경되지 않았습니다.",
    },
    "undelivered": {
        "en": "The decision could not be handed to the workflow just now, so it was not "
        "recorded. Open the link again and decide again; if nobody decides before the "
        "request expires, nothing will be changed.",
        "ko": "지금은 결정을 워크플로에 전달하지 못해 기록하지 않았습니다. 링크를 다시 열어 "
        "다시 결정해 주세요. 만료 전까지 아무도 결정하지 않으면 아무것도 변경되지 않습니다.",
    },
    "method": {"en": "Only GET and POST are accepted.", "ko": "GET과 POST만 허용됩니다."},
    "superseded": {
        "en": "A newer approval request replaced this one (the workflow asked again). Use "
        "the newest link; this one can no longer change anything.",
        "ko": "새 승인 요청이 이 요청을 대체했습니다(워크플로가 다시 요청함). 가장 최근 링크를 "
        "사용하세요. 이 링크로는 더 이상 아무것도 변경할 수 없습니다.",
    },
    "unconfirmed.approved": {
        "en": "Approval recorded; delivery to the workflow could not be confirmed",
        "ko": "승인이 기록되었으나 워크플로 전달을 확인하지 못했습니다",
    },
    "unconfirmed.rejected": {
        "en": "Rejection recorded; delivery to the workflow could not be confirmed",
        "ko": "거부가 기록되었으나 워크플로 전달을 확인하지 못했습니다",
    },
    "unconfirmed.note": {
        "en": "The decision may already have arrived. It is final: nobody can decide "
        "differently. If it did not arrive, the request expires and nothing is changed. "
        "The outcome is reported in Discord and by email.",
        "ko": "결정이 이미 전달되었을 수 있습니다. 결정은 확정되었으며 다른 결정으로 바꿀 수 "
        "없습니다. 전달되지 않았다면 요청이 만료되고 아무것도 변경되지 않습니다. 결과는 "
        "Discord와 이메일로 알려드립니다.",
    },
    "redeliver": {
        "en": "Deliver the recorded decision again",
        "ko": "기록된 결정을 다시 전달",
    },
    "approver_setting": {
        "en": "The approver network setting is invalid (ApproverCidrs), so nobody may decide. "
        "Nothing was changed; ask the administrators to fix the setting.",
        "ko": "승인자 네트워크 설정(ApproverCidrs)이 잘못되어 아무도 결정할 수 없습니다. "
        "아무것도 변경되지 않았습니다. 관리자에게 설정 수정을 요청하세요.",
    },
}


def t(key: str, lang: str) -> str:
    entry = _TEXT[key]
    return entry.get(lang) or entry["en"]


@dataclass(frozen=True)
class Page:
    status: int
    body: str
    headers: Mapping[str, str]

    def to_http_api(self) -> dict[str, Any]:
        """The API Gateway HTTP API (payload v2.0) Lambda response."""
        return {
            "statusCode": self.status,
            "headers": dict(self.headers),
            "body": self.body,
            "isBase64Encoded": False,
        }


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def local_time(epoch: float, zone: ZoneInfo) -> str:
    return datetime.fromtimestamp(epoch, UTC).astimezone(zone).strftime("%Y-%m-%d %H:%M:%S %Z")


def _document(lang: str, title: str, body: str) -> str:
    return (
        "<!doctype html>\n"
        f'<html lang="{_e(lang)}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        '<meta name="referrer" content="same-origin">'
        '<meta name="robots" content="noindex,nofollow">'
        f"<title>{_e(title)}</title><style>{_STYLE}</style></head>"
        f"<body>{body}</body></html>\n"
    )


def _page(status: int, lang: str, title: str, body: str) -> Page:
    return Page(status, _document(lang, title, body), SECURITY_HEADERS)


def _details(summary: Mapping[str, Any]) -> str:
    """What happened: every string is untrusted, so it is made plain, then escaped."""
    rows = []
    for field in summary.get("fields") or ():
        if isinstance(field, list | tuple) and len(field) == 2:
            name, value = text.plain(field[0]), text.plain_block(field[1])
            rows.append(f"<tr><th>{_e(name)}</th><td>{_e(value)}</td></tr>")
    heading = f"<h1>{_e(text.plain(summary.get('title') or ''))}</h1>"
    what = f"<p>{_e(text.plain(summary.get('summary') or ''))}</p>"
    return heading + what + (f"<table>{''.join(rows)}</table>" if rows else "")


def confirmation(
    summary: Mapping[str, Any], nonce: str, expires_at: int, lang: str, zone: ZoneInfo
) -> Page:
    """The GET page: the details and a form that POSTs the decision with the nonce."""
    body = (
        f'<p class="note">{_e(t("intro", lang))}</p>'
        + _details(summary)
        + f"<p>{_e(t('expires', lang))}: {_e(local_time(expires_at, zone))}</p>"
        + '<form method="post">'
        + f'<input type="hidden" name="nonce" value="{_e(nonce)}">'
        + '<div class="actions">'
        + '<button class="approve" type="submit" name="decision" value="approve">'
        + f"{_e(t('approve', lang))}</button>"
        + '<button class="reject" type="submit" name="decision" value="reject">'
        + f"{_e(t('reject', lang))}</button>"
        + "</div></form>"
    )
    return _page(200, lang, t("heading", lang), body)


def _redeliver_form(nonce: str | None, lang: str) -> str:
    if nonce is None:
        return ""
    return (
        '<form method="post">'
        f'<input type="hidden" name="nonce" value="{_e(nonce)}">'
        '<div class="actions"><button type="submit" name="decision" value="redeliver">'
        f"{_e(t('redeliver', lang))}</button></div></form>"
    )


def decided(
    status: str,
    summary: Mapping[str, Any],
    at: int | None,
    ip: str,
    lang: str,
    zone: ZoneInfo,
    *,
    unconfirmed: bool = False,
    redeliver_nonce: str | None = None,
) -> Page:
    """An already decided request; with ``unconfirmed``, its delivery was not confirmed
    (and, before expiry, a form re-sends the recorded decision)."""
    line = t(f"decided.{status}", lang)
    if at is not None:
        line += f" ({t('at', lang)} {local_time(at, zone)}"
        line += f", {t('from', lang)} {text.plain(ip)})" if ip else ")"
    body = f'<p class="note">{_e(line)}.</p>'
    if unconfirmed:
        body += (
            f'<p class="note">{_e(t(f"unconfirmed.{status}", lang))}. '
            f"{_e(t('unconfirmed.note', lang))}</p>" + _redeliver_form(redeliver_nonce, lang)
        )
    return _page(409, lang, line, body + _details(summary))


def unconfirmed(
    status: str, summary: Mapping[str, Any], redeliver_nonce: str | None, lang: str
) -> Page:
    """The decision is recorded (final) but Step Functions never answered: say so."""
    line = t(f"unconfirmed.{status}", lang)
    body = (
        f'<p class="note">{_e(line)}. {_e(t("unconfirmed.note", lang))}</p>'
        + _redeliver_form(redeliver_nonce, lang)
        + _details(summary)
    )
    return _page(202, lang, line, body)


def done(status: str, summary: Mapping[str, Any], lang: str) -> Page:
    text = t(f"done.{status}", lang)
    return _page(200, lang, text, f'<p class="note">{_e(text)}</p>' + _details(summary))


def message(key: str, status: int, lang: str, summary: Mapping[str, Any] | None = None) -> Page:
    """A one-line page (expired, unknown, forbidden, stale, bad request...)."""
    text = t(key, lang)
    return _page(status, lang, text, f'<p class="note">{_e(text)}</p>' + _details(summary or {}))
