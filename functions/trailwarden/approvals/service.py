"""GET /approvals/{id} shows; POST /approvals/{id} decides (once).

* GET never decides: mail scanners and chat unfurlers fetch every link. It renders the
  confirmation page with a fresh one-time nonce (stored hashed) and changes nothing else.
* POST decides only with a nonce a GET of *this* request issued, while the request is
  pending and not expired: one conditional write flips it to approved/rejected and
  records when, from which IP and which user agent. Only then is the decision handed
  to the waiting workflow (SendTaskSuccess with the stored task token). A replayed POST,
  a wrong nonce, a tampered id, an expired link or a second decision all fail the
  condition and change nothing.
* ``ApproverCidrs`` (optional) restricts who may see and decide (403 otherwise). The
  source IP is API Gateway's view of the TCP peer, not a header a client can set.
"""

from __future__ import annotations

import ipaddress
import json
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError

from trailwarden.approvals import page, tokens
from trailwarden.approvals.store import APPROVED, DECISIONS, PENDING, REJECTED
from trailwarden.aws_errors import error_code

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from zoneinfo import ZoneInfo

    from trailwarden.approvals.store import ApprovalRecord, ApprovalStore
    from trailwarden.settings import ApprovalSettings

logger = Logger(child=True)

DECIDE_ACTIONS = frozenset({"states:SendTaskSuccess"})
# The workflow no longer waits for this token (timed out, or already completed).
_TOKEN_GONE = frozenset({"TaskTimedOut", "InvalidToken", "TaskDoesNotExist"})


@dataclass(frozen=True)
class HttpRequest:
    method: str
    approval_id: str
    source_ip: str
    user_agent: str
    form: Mapping[str, str] = field(default_factory=dict)
    fetch_site: str = ""  # the browser's Sec-Fetch-Site header, when it sent one


@dataclass
class ApprovalService:
    store: ApprovalStore
    sfn: Any
    settings: ApprovalSettings
    language: str
    zone: ZoneInfo
    clock: Callable[[], float] = time.time
    new_nonce: Callable[[], str] = tokens.new_secret

    # ------------------------------------------------------------------ entry point

    def handle(self, request: HttpRequest) -> page.Page:
        lang = self.language
        if request.method not in ("GET", "POST"):
            return page.message("method", 405, lang)
        if self.settings.approver_cidrs_invalid:  # set, but unusable: nobody, never anyone
            return page.message("approver_setting", 403, lang)
        if not self._may_decide(request.source_ip):
            logger.warning("approver address not allowed", extra={"sourceIp": request.source_ip})
            return page.message("forbidden", 403, lang)
        if not tokens.well_formed(request.approval_id):
            return page.message("unknown", 404, lang)
        id_hash = tokens.digest(request.approval_id)
        if request.method == "GET":
            return self._show(id_hash)
        if request.fetch_site == "cross-site":  # a form on another site posting here
            return page.message("bad_request", 403, lang)
        return self._decide(id_hash, request)

    def _may_decide(self, source_ip: str) -> bool:
        if not self.settings.approver_cidrs:
            return True
        try:
            address = ipaddress.ip_address(source_ip)
        except ValueError:
            return False
        return any(
            address in network
            for network in self.settings.approver_cidrs
            if network.version == address.version
        )

    # ------------------------------------------------------------------ GET

    def _state_page(self, record: ApprovalRecord | None) -> page.Page:
        """The page for a request that cannot be decided (any more)."""
        lang = self.language
        if record is None:
            return page.message("unknown", 404, lang)
        if record.expired(self.clock()):
            return page.message("expired", 410, lang, record.summary)
        if record.status in (APPROVED, REJECTED):
            return page.decided(
                record.status,
                record.summary,
                record.decided_at,
                record.decided_ip,
                lang,
                self.zone,
            )
        return page.message("stale", 403, lang, record.summary)

    def _show(self, id_hash: str) -> page.Page:
        record = self.store.get(id_hash)
        now = int(self.clock())
        if record is None or record.status != PENDING or record.expired(now):
            return self._state_page(record)
        nonce = self.new_nonce()
        if not self.store.add_nonce(id_hash, tokens.digest(nonce), now):
            return self._state_page(self.store.get(id_hash))  # decided meanwhile
        return page.confirmation(record.summary, nonce, record.expires_at, self.language, self.zone)

    # ------------------------------------------------------------------ POST

    def _decide(self, id_hash: str, request: HttpRequest) -> page.Page:
        lang = self.language
        status = DECISIONS.get(request.form.get("decision", ""))
        nonce = request.form.get("nonce", "")
        if status is None or not tokens.well_formed(nonce):
            return page.message("bad_request", 400, lang)
        now = int(self.clock())
        record = self.store.decide(
            id_hash,
            tokens.digest(nonce),
            status,
            now=now,
            source_ip=request.source_ip,
            user_agent=request.user_agent,
        )
        if record is None:
            return self._state_page(self.store.get(id_hash))
        logger.info(
            "approval decided",
            extra={
                "decision": status,
                "workflow": record.workflow,
                "eventID": record.event_id,
                "sourceIp": request.source_ip,
                "userAgent": request.user_agent[:200],
            },
        )
        output = {
            "status": status,
            "decidedAt": now,
            "sourceIp": request.source_ip,
            "userAgent": request.user_agent[:512],
        }
        try:
            self.sfn.send_task_success(taskToken=record.task_token, output=json.dumps(output))
        except ClientError as err:
            code = error_code(err)
            if code in _TOKEN_GONE:
                logger.warning("decision arrived after the workflow stopped waiting")
                self.store.too_late(id_hash, status, now)
                return page.message("expired", 410, lang, record.summary)
            logger.error("decision not delivered", extra={"error": code})
            self.store.reopen(id_hash, status, now)
            return page.message("undelivered", 502, lang, record.summary)
        except BotoCoreError as err:
            logger.error("decision not delivered", extra={"error": type(err).__name__})
            self.store.reopen(id_hash, status, now)
            return page.message("undelivered", 502, lang, record.summary)
        self.store.delivered(id_hash, now)
        return page.done(status, record.summary, lang)
