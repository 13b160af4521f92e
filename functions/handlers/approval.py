"""Approval endpoint (API Gateway HTTP API, payload v2.0): GET shows, POST decides.

The only function allowed states:SendTaskSuccess. Requests are never logged whole: the
path carries the opaque id and the form carries the nonce.
"""

from __future__ import annotations

import base64
import binascii
import os
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from handlers._observability import observability
from trailwarden.approvals.service import ApprovalService, HttpRequest
from trailwarden.approvals.store import ApprovalStore
from trailwarden.clients import make_client
from trailwarden.settings import ApprovalSettings, NotifySettings

if TYPE_CHECKING:
    from collections.abc import Mapping

    from aws_lambda_powertools.utilities.typing import LambdaContext

logger, metrics = observability()

MAX_FORM_BYTES = 4096  # the form has two short fields


@dataclass(frozen=True)
class Deps:
    service: ApprovalService


@cache
def _deps() -> Deps:
    settings = ApprovalSettings.from_env(os.environ)
    notify = NotifySettings.from_env(os.environ)
    return Deps(
        service=ApprovalService(
            store=ApprovalStore(make_client("dynamodb"), settings.table),
            sfn=make_client("stepfunctions", retries=False),
            settings=settings,
            language=notify.language,
            zone=notify.zone,
        )
    )


def _form(event: Mapping[str, Any]) -> dict[str, str]:
    body = event.get("body") or ""
    if not isinstance(body, str):
        return {}
    if event.get("isBase64Encoded"):
        try:
            body = base64.b64decode(body, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return {}
    if len(body) > MAX_FORM_BYTES:
        return {}
    try:
        parsed = parse_qs(body, keep_blank_values=True, max_num_fields=10)
    except ValueError:
        return {}
    return {key: values[0] for key, values in parsed.items() if len(values) == 1}


def parse_request(event: Mapping[str, Any]) -> HttpRequest:
    """An HTTP API payload v2.0 event -> HttpRequest."""
    context = event.get("requestContext") or {}
    http = context.get("http") or {}
    headers = event.get("headers") or {}  # payload v2.0 lower-cases header names
    method = str(http.get("method") or "").upper()
    return HttpRequest(
        method=method,
        approval_id=str((event.get("pathParameters") or {}).get("id") or ""),
        source_ip=str(http.get("sourceIp") or ""),
        user_agent=str(http.get("userAgent") or ""),
        form=_form(event) if method == "POST" else {},
        fetch_site=str(headers.get("sec-fetch-site") or ""),
        origin=str(headers.get("origin") or ""),
        # The domain API Gateway was called on (not a client header): our own origin.
        host=str(context.get("domainName") or ""),
    )


def run(event: Any, deps: Deps) -> dict[str, Any]:
    request = parse_request(event if isinstance(event, dict) else {})
    response = deps.service.handle(request)
    logger.info(
        "approval page",
        extra={"method": request.method, "status": response.status, "sourceIp": request.source_ip},
    )
    return response.to_http_api()


@metrics.log_metrics
@logger.inject_lambda_context(log_event=False)
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    return run(event, _deps())
