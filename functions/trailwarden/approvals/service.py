"""GET /approvals/{id} shows; POST /approvals/{id} decides (once).

* GET never decides: mail scanners and chat unfurlers fetch every link. It renders the
  confirmation page and writes nothing, however often it is fetched.
* Nonces are stateless. Every page of one request carries the same nonce,
  ``HMAC-SHA256(key, "<id hash>|<expiresAt>")`` (tokens.page_nonce), where ``key`` is
  256 random bits RequestApproval drew for this request and stored in its item only.
  A page the human opened an hour ago is therefore still valid after any number of
  unfurler GETs (the old design kept the last 20 page nonces and lost the human's).
  What the nonce proves: whoever POSTs read a page of *this* request (another
  request's nonce, a guessed or a stale-expiry nonce does not verify). It is not a
  one-time value: "decides once" is the conditional write (pending -> decided), so a
  replayed POST, a second decision, an expired or superseded link all change nothing.
* POST decides only while the request is pending, not expired and not superseded: one
  conditional write flips it to approved/rejected and records when, from which IP and
  which user agent. Only then is the decision handed to the waiting workflow
  (SendTaskSuccess with the stored task token):
  - accepted: the token is dropped, done;
  - ``TaskTimedOut``/``InvalidToken``: the workflow stopped waiting (expired, or a
    retried RequestApproval superseded this link): recorded as late, nothing changes;
  - any other error answer from Step Functions (throttled, 5xx): it surely did not
    arrive, so the decision is undone and the approver may decide again;
  - no answer (read timeout, connection dropped or refused: any botocore transport
    error): it may have arrived. The decision stays recorded ("delivery unknown"), the
    approver is told exactly that, nobody can decide differently, and the page offers
    to deliver the *recorded* decision again until the link expires. A re-delivery
    answered ``TaskTimedOut``/``InvalidToken`` means the first one arrived (the token
    is spent and only this function holds it): it reads as "already decided".
* Cross-site POSTs are refused twice over: ``Sec-Fetch-Site`` must not be
  ``cross-site``/``same-site``, and ``Origin`` must be this API's own origin (https on
  the domain API Gateway saw; http too on loopback, for the local server). ``Origin:
  null`` (an opaque origin, e.g. a sandboxed frame) is accepted only when the browser
  also says ``Sec-Fetch-Site: same-origin``. An absent ``Origin`` is accepted only
  without ``Sec-Fetch-Site``: every browser that sends Fetch Metadata also sends
  ``Origin`` on a POST, so only old browsers omit both (non-browser clients can forge
  any header; the nonce is what stops them). The pages use ``Referrer-Policy:
  same-origin`` so that their own POST carries a real ``Origin`` (under
  ``no-referrer`` browsers send ``Origin: null``).
* ``ApproverCidrs`` (optional) restricts who may see and decide (403 otherwise). The
  source IP is API Gateway's view of the TCP peer, not a header a client can set.
"""

from __future__ import annotations

import ipaddress
import json
import time
import urllib.parse
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError

from trailwarden.approvals import page, tokens
from trailwarden.approvals.store import (
    APPROVED,
    DECISIONS,
    PENDING,
    REJECTED,
    SUPERSEDED,
)
from trailwarden.dal.aws_errors import error_code

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from zoneinfo import ZoneInfo

    from trailwarden.approvals.store import ApprovalRecord, ApprovalStore
    from trailwarden.models.settings import ApprovalSettings

logger = Logger(child=True)

DECIDE_ACTIONS = frozenset({"states:SendTaskSuccess"})
REDELIVER = "redeliver"  # the form action that re-sends a recorded, unconfirmed decision
# The workflow no longer waits for this token (timed out, already completed, replaced).
_TOKEN_GONE = frozenset({"TaskTimedOut", "InvalidToken", "TaskDoesNotExist"})
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
_FOREIGN_SITES = frozenset({"cross-site", "same-site"})


@dataclass(frozen=True)
class HttpRequest:
    method: str
    approval_id: str
    source_ip: str
    user_agent: str
    form: Mapping[str, str] = field(default_factory=dict)
    fetch_site: str = ""  # the browser's Sec-Fetch-Site header, when it sent one
    origin: str = ""  # the browser's Origin header, when it sent one
    host: str = ""  # the domain name the API was called on (API Gateway's domainName)


@dataclass
class ApprovalService:
    store: ApprovalStore
    sfn: Any
    settings: ApprovalSettings
    language: str
    zone: ZoneInfo
    clock: Callable[[], float] = time.time

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
        if not self._same_origin(request):  # a form on another site posting here
            logger.warning(
                "cross-origin decision refused",
                extra={"origin": request.origin[:200], "fetchSite": request.fetch_site[:40]},
            )
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

    def _same_origin(self, request: HttpRequest) -> bool:
        site = request.fetch_site.strip().lower()
        if site in _FOREIGN_SITES:
            return False
        origin = request.origin.strip().lower()
        if not origin:
            return not site  # only browsers without Fetch Metadata omit Origin on POST
        if origin == "null":
            return site == "same-origin"
        return origin in self._own_origins(request.host)

    def _own_origins(self, host: str) -> set[str]:
        origins = set()
        host = host.strip().lower()
        if host:
            origins.add(f"https://{host}")
            if urllib.parse.urlsplit(f"//{host}").hostname in _LOOPBACK:
                origins.add(f"http://{host}")
        if self.settings.base_url:
            parts = urllib.parse.urlsplit(self.settings.base_url.lower())
            origins.add(f"{parts.scheme}://{parts.netloc}")
        return origins

    # ------------------------------------------------------------------ pages

    def _nonce(self, record: ApprovalRecord) -> str:
        return tokens.page_nonce(record.nonce_key, record.id_hash, record.expires_at)

    def _state_page(self, record: ApprovalRecord | None, now: float) -> page.Page:
        """The page for a request that cannot be decided (any more)."""
        lang = self.language
        if record is None:
            return page.message("unknown", 404, lang)
        if record.status == SUPERSEDED:
            return self._superseded(record)
        if record.expired(now):
            return page.message("expired", 410, lang, record.summary)
        if record.status in (APPROVED, REJECTED):
            may_retry = record.delivery_unknown and now < record.expires_at and record.nonce_key
            return page.decided(
                record.status,
                record.summary,
                record.decided_at,
                record.decided_ip,
                lang,
                self.zone,
                unconfirmed=record.delivery_unknown,
                redeliver_nonce=self._nonce(record) if may_retry else None,
            )
        return page.message("stale", 403, lang, record.summary)

    def _superseded(self, record: ApprovalRecord) -> page.Page:
        return page.message("superseded", 410, self.language, record.summary)

    # ------------------------------------------------------------------ GET

    def _show(self, id_hash: str) -> page.Page:
        record = self.store.get(id_hash)
        now = int(self.clock())
        if record is None or record.status != PENDING or record.expired(now):
            return self._state_page(record, now)
        if self.store.superseded(record):
            return self._superseded(record)
        if not record.nonce_key:  # stored before nonce keys existed: give it one, once
            key = self.store.ensure_nonce_key(id_hash, tokens.new_secret(), now)
            if key is None:
                return self._state_page(self.store.get(id_hash), now)
            record = replace(record, nonce_key=key)
        return page.confirmation(
            record.summary, self._nonce(record), record.expires_at, self.language, self.zone
        )

    # ------------------------------------------------------------------ POST

    def _decide(self, id_hash: str, request: HttpRequest) -> page.Page:
        lang = self.language
        action = request.form.get("decision", "")
        nonce = request.form.get("nonce", "")
        if (action not in DECISIONS and action != REDELIVER) or not tokens.well_formed(nonce):
            return page.message("bad_request", 400, lang)
        now = int(self.clock())
        record = self.store.get(id_hash)
        if record is None:
            return page.message("unknown", 404, lang)
        if not tokens.nonce_matches(nonce, record.nonce_key, id_hash, record.expires_at):
            if record.status == PENDING and not record.expired(now):
                return page.message("stale", 403, lang, record.summary)
            return self._state_page(record, now)
        if action == REDELIVER:
            return self._redeliver(record, now)
        if record.status != PENDING or record.expired(now):
            return self._state_page(record, now)
        if self.store.superseded(record):
            self.store.supersede(id_hash, now)
            return self._superseded(record)
        status = DECISIONS[action]
        decided = self.store.decide(
            id_hash,
            record.nonce_key,
            status,
            now=now,
            source_ip=request.source_ip,
            user_agent=request.user_agent,
        )
        if decided is None:  # someone else decided first, or it just expired
            return self._state_page(self.store.get(id_hash), now)
        logger.info(
            "approval decided",
            extra={
                "decision": status,
                "workflow": decided.workflow,
                "eventID": decided.event_id,
                "sourceIp": request.source_ip,
                "userAgent": request.user_agent[:200],
            },
        )
        return self._deliver(decided, decided.task_token or "", now, redelivery=False)

    def _redeliver(self, record: ApprovalRecord, now: int) -> page.Page:
        """Send the recorded decision again, while its first delivery is unconfirmed."""
        if not record.delivery_unknown or now >= record.expires_at:
            return self._state_page(record, now)
        token = self.store.task_token(record.id_hash)
        if not token:
            return self._state_page(self.store.get(record.id_hash), now)
        logger.info("re-delivering an unconfirmed decision", extra={"decision": record.status})
        return self._deliver(record, token, now, redelivery=True)

    def _deliver(
        self, record: ApprovalRecord, token: str, now: int, *, redelivery: bool
    ) -> page.Page:
        lang, id_hash, status = self.language, record.id_hash, record.status
        try:
            self.sfn.send_task_success(taskToken=token, output=json.dumps(record.decision_output()))
        except ClientError as err:
            code = error_code(err)
            if code in _TOKEN_GONE:
                return self._token_gone(record, now, redelivery=redelivery)
            logger.error("decision not delivered", extra={"error": code})
            if redelivery:  # still unknown whether the first attempt arrived
                return self._unconfirmed(record, now)
            decided_at = record.decided_at if record.decided_at is not None else now
            self.store.reopen(id_hash, status, decided_at)
            return page.message("undelivered", 502, lang, record.summary)
        except BotoCoreError as err:
            # No answer: Step Functions may have received it. Never reopen.
            logger.error("decision delivery unconfirmed", extra={"error": type(err).__name__})
            self.store.delivery_unknown(id_hash, now)
            return self._unconfirmed(record, now)
        self.store.delivered(id_hash, now)
        return page.done(status, record.summary, lang)

    # ------------------------------------------------------------------ Discord buttons

    def resume(self, id_hash: str) -> str:
        """Hand a decision a Discord button recorded to the waiting workflow.

        The same delivery rules as a POST (accepted, token gone, error answer -> undone,
        no answer -> unknown). Returns the request's state afterwards: ``delivered``,
        ``reopened`` (decide again), ``unconfirmed``, ``expired``, ``superseded`` or
        ``nothing`` (not a decided, undelivered request).
        """
        now = int(self.clock())
        record = self.store.get(id_hash)
        if record is None or record.status not in (APPROVED, REJECTED) or record.delivered_at:
            return "nothing"
        token = self.store.task_token(id_hash)
        if not token:
            return "nothing"
        # Asynchronous invokes are at-least-once: a second run of the same resume must
        # read "token already used" as delivered, not as expired.
        first = self.store.start_sending(id_hash, now)
        if first is None:
            return "nothing"
        self._deliver(record, token, now, redelivery=not first)
        after = self.store.get(id_hash)
        if after is None:
            return "nothing"
        if after.status == PENDING:
            return "reopened"
        if after.status == SUPERSEDED:
            return "superseded"
        if after.status in (APPROVED, REJECTED) and after.delivered_at is not None:
            return "delivered"
        if after.delivery_unknown:
            return "unconfirmed"
        return "expired"

    def _unconfirmed(self, record: ApprovalRecord, now: int) -> page.Page:
        nonce = self._nonce(record) if now < record.expires_at and record.nonce_key else None
        return page.unconfirmed(record.status, record.summary, nonce, self.language)

    def _token_gone(self, record: ApprovalRecord, now: int, *, redelivery: bool) -> page.Page:
        """The workflow no longer waits for this token."""
        id_hash, lang = record.id_hash, self.language
        if self.store.superseded(record):
            logger.warning("decision arrived for a superseded request")
            self.store.too_late(id_hash, record.status, now, final=SUPERSEDED)
            return self._superseded(record)
        if redelivery:  # the unconfirmed first delivery did arrive: the token is spent
            logger.info("unconfirmed decision had arrived (token already used)")
            self.store.delivered(id_hash, now, evidence="token already used")
            return self._state_page(self.store.get(id_hash), now)
        logger.warning("decision arrived after the workflow stopped waiting")
        self.store.too_late(id_hash, record.status, now)
        return page.message("expired", 410, lang, record.summary)
