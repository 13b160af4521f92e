"""Approval endpoint (API Gateway HTTP API, payload v2.0): GET shows, POST decides.

The only function allowed states:SendTaskSuccess. Requests are never logged whole: the
path carries the opaque id and the form carries the nonce.
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from handlers._approval_service import build_approval_service
from handlers._observability import observability
from trailwarden.approvals.service import ApprovalService, HttpRequest
from trailwarden.models.events import mapping_of, text_of
from trailwarden.models.settings import ApprovalSettings, NotifySettings

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
    return Deps(service=build_approval_service(settings, notify))


def _form(event: Mapping[str, Any]) -> dict[str, str]:
    body = event.get("body") or ""
    if not isinstance(body, str):
        return {}
    if event.get("isBase64Encoded"):
        try:
            body = base64.b64decode(body, validate=True).decode("utf-8")
        except ValueError:  # binascii.Error, UnicodeDecodeError, a non-ASCII body
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
    context = mapping_of(event.get("requestContext"))
    http = mapping_of(context.get("http"))
    headers = mapping_of(event.get("headers"))  # payload v2.0 lower-cases header names
    method = text_of(http.get("method")).upper()
    return HttpRequest(
        method=method,
        approval_id=text_of(mapping_of(event.get("pathParameters")).get("id")),
        source_ip=text_of(http.get("sourceIp")),
        user_agent=text_of(http.get("userAgent")),
        form=_form(event) if method == "POST" else {},
        fetch_site=text_of(headers.get("sec-fetch-site")),
        origin=text_of(headers.get("origin")),
        # The domain API Gateway was called on (not a client header): our own origin.
        host=text_of(context.get("domainName")),
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
