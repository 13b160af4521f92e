"""A stand-in for the one Security Hub call moto lacks: ``BatchUpdateFindings``.

**This plays an AWS API locally; it is not moto.** moto (pinned) implements
``BatchImportFindings`` and ``GetFindings`` but not ``BatchUpdateFindings``, which is
how a finding's ``Workflow.Status`` and ``Note`` change once it exists. Like the Discord
stand-in, it lives in ``local/`` and never ships.

It is a botocore ``before-call`` handler (added to ``botocore.handlers.BUILTIN_HANDLERS``,
as the engine's operation recorder is, so every client made while it is installed has
it, the handlers' own included). For ``securityhub:BatchUpdateFindings`` it answers in
place of the network: it finds the caller's account as moto does (``MOTO_ACCOUNT_ID``,
else the access key, so a member role's credentials reach the member's backend) and the
client's region, and applies the update to the findings held by moto's Security Hub
backend for that account and region. Every request is recorded (:attr:`requests`) so the
demo and tests can assert what was asked and what was answered.

It refuses what AWS refuses:

- Security Hub not enabled in that account and region: ``InvalidAccessException``;
- ``Workflow.Status`` other than NEW, NOTIFIED, RESOLVED, SUPPRESSED, a
  ``Severity.Label`` or ``VerificationState`` outside their enums, a ``Note.Text``
  over 512 or ``Note.UpdatedBy`` over 128 characters, or nothing to update:
  ``InvalidInputException`` (the whole request);
- an identifier that matches no finding (``Id`` and ``ProductArn`` together):
  ``UnprocessedFindings`` ``FindingNotFound``; one named twice:
  ``DuplicatedFindingIdentifier``. The others are still processed.

Other fields the API takes (Confidence, Criticality, Types, UserDefinedFields,
RelatedFindings) are applied as given. As in AWS, ``UpdatedAt`` is not changed.
"""

from __future__ import annotations

import copy
import json
import os
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from botocore.handlers import BUILTIN_HANDLERS

_UNIQUE_ID = "trailwarden-local-securityhub-batch-update-findings"
WORKFLOW_STATUSES = frozenset({"NEW", "NOTIFIED", "RESOLVED", "SUPPRESSED"})
SEVERITY_LABELS = frozenset({"INFORMATIONAL", "LOW", "MEDIUM", "HIGH", "CRITICAL"})
VERIFICATION_STATES = frozenset({"UNKNOWN", "TRUE_POSITIVE", "FALSE_POSITIVE", "BENIGN_POSITIVE"})
UPDATABLE = (
    "Note",
    "Severity",
    "VerificationState",
    "Confidence",
    "Criticality",
    "Types",
    "UserDefinedFields",
    "Workflow",
    "RelatedFindings",
)


@dataclass
class UpdateRequest:
    """One BatchUpdateFindings request as received, and what was answered."""

    account: str
    region: str
    identifiers: list[dict[str, str]]
    update: dict[str, Any]  # the updatable fields the request carried
    processed: list[dict[str, str]] = field(default_factory=list)
    unprocessed: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None  # the error code when the whole request was refused

    def to_dict(self) -> dict[str, Any]:
        return {
            "account": self.account,
            "region": self.region,
            "findingIdentifiers": self.identifiers,
            "update": self.update,
            "processed": self.processed,
            "unprocessed": self.unprocessed,
            "error": self.error,
        }


class _RefusedError(Exception):
    def __init__(self, code: str, message: str, status: int) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


class BatchUpdateFindingsStandIn:
    """Install while a moto mock is active; see the module docstring."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: list[UpdateRequest] = []
        self._hook = ("before-call", self._before_call)
        self._session_registered: Any = None

    # lifecycle -----------------------------------------------------------
    def install(self) -> BatchUpdateFindingsStandIn:
        if self._hook not in BUILTIN_HANDLERS:
            BUILTIN_HANDLERS.append(self._hook)
        import boto3

        default = boto3.DEFAULT_SESSION  # made before us: BUILTIN_HANDLERS came too early
        if default is not None:
            handler: Any = self._before_call  # it returns a response: the stubs say None
            default._session.register("before-call", handler, unique_id=_UNIQUE_ID)
            self._session_registered = default
        return self

    def uninstall(self) -> None:
        while self._hook in BUILTIN_HANDLERS:
            BUILTIN_HANDLERS.remove(self._hook)
        if self._session_registered is not None:
            handler: Any = self._before_call
            self._session_registered._session.unregister(
                "before-call", handler, unique_id=_UNIQUE_ID
            )
            self._session_registered = None

    def __enter__(self) -> BatchUpdateFindingsStandIn:
        return self.install()

    def __exit__(self, *exc: object) -> None:
        self.uninstall()

    # what was asked ------------------------------------------------------
    @property
    def requests(self) -> list[UpdateRequest]:
        with self._lock:
            return list(self._requests)

    def clear(self) -> None:
        with self._lock:
            self._requests.clear()

    # the call ------------------------------------------------------------
    def _before_call(
        self, model: Any = None, params: Any = None, request_signer: Any = None, **_: Any
    ) -> tuple[Any, dict[str, Any]] | None:
        if model is None or model.name != "BatchUpdateFindings":
            return None
        if model.service_model.service_name != "securityhub":
            return None
        body = (params or {}).get("body") or b"{}"
        request = json.loads(body.decode() if isinstance(body, bytes) else body)
        region = str(request_signer.region_name)
        account = _caller_account(request_signer)
        recorded = UpdateRequest(
            account=account,
            region=region,
            identifiers=list(request.get("FindingIdentifiers", [])),
            update={k: request[k] for k in UPDATABLE if k in request},
        )
        try:
            result = self._apply(recorded)
        except _RefusedError as err:
            recorded.error = err.code
            self._remember(recorded)
            return _answer(err.status, {"Error": {"Code": err.code, "Message": str(err)}})
        self._remember(recorded)
        return _answer(200, result)

    def _remember(self, recorded: UpdateRequest) -> None:
        with self._lock:
            self._requests.append(recorded)

    def _apply(self, recorded: UpdateRequest) -> dict[str, Any]:
        from moto.securityhub.models import securityhub_backends

        update = recorded.update
        _validate(update)
        backend = securityhub_backends[recorded.account][recorded.region]
        if not backend.enabled:
            raise _RefusedError(
                "InvalidAccessException",
                f"Account {recorded.account} is not subscribed to AWS Security Hub",
                401,
            )
        now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        seen: set[tuple[str, str]] = set()
        for identifier in recorded.identifiers:
            key = (str(identifier.get("Id")), str(identifier.get("ProductArn")))
            if key in seen:
                recorded.unprocessed.append(
                    _unprocessed(
                        identifier,
                        "DuplicatedFindingIdentifier",
                        "Finding Identifier is duplicated",
                    )
                )
                continue
            seen.add(key)
            found = next(
                (f for f in backend.findings if (f.id, f.data.get("ProductArn")) == key), None
            )
            if found is None:
                recorded.unprocessed.append(
                    _unprocessed(identifier, "FindingNotFound", "Finding Not Found")
                )
                continue
            for name, value in update.items():
                if name == "Note":
                    found.data["Note"] = {**value, "UpdatedAt": now}
                elif name in ("Workflow", "Severity") and isinstance(value, dict):
                    found.data[name] = {**found.data.get(name, {}), **copy.deepcopy(value)}
                else:
                    found.data[name] = copy.deepcopy(value)
            recorded.processed.append({"Id": key[0], "ProductArn": key[1]})
        return {
            "ProcessedFindings": recorded.processed,
            "UnprocessedFindings": recorded.unprocessed,
        }


def _validate(update: dict[str, Any]) -> None:
    def refuse(message: str) -> _RefusedError:
        return _RefusedError("InvalidInputException", message, 400)

    if not update:
        raise refuse("Request must contain at least one attribute to update")
    status = (update.get("Workflow") or {}).get("Status")
    if "Workflow" in update and status not in WORKFLOW_STATUSES:
        raise refuse(f"Invalid Workflow.Status {status!r}: one of {sorted(WORKFLOW_STATUSES)}")
    label = (update.get("Severity") or {}).get("Label")
    if label is not None and label not in SEVERITY_LABELS:
        raise refuse(f"Invalid Severity.Label {label!r}")
    state = update.get("VerificationState")
    if state is not None and state not in VERIFICATION_STATES:
        raise refuse(f"Invalid VerificationState {state!r}")
    note = update.get("Note")
    if note is not None:
        text, by = str(note.get("Text", "")), str(note.get("UpdatedBy", ""))
        if not text.strip() or not by.strip():
            raise refuse("Note.Text and Note.UpdatedBy are required")
        if len(text) > 512 or len(by) > 128:
            raise refuse("Note.Text is at most 512 characters, Note.UpdatedBy at most 128")


def _unprocessed(identifier: dict[str, Any], code: str, message: str) -> dict[str, Any]:
    return {"FindingIdentifier": identifier, "ErrorCode": code, "ErrorMessage": message}


def _caller_account(request_signer: Any) -> str:
    """The account moto would bill the call to (moto.core.responses' order)."""
    if "MOTO_ACCOUNT_ID" in os.environ:
        return os.environ["MOTO_ACCOUNT_ID"]
    from moto.iam.models import get_account_id_from

    credentials = getattr(request_signer, "_credentials", None)
    access_key = credentials.get_frozen_credentials().access_key if credentials else ""
    return str(get_account_id_from(access_key or "AKIAEXAMPLE"))


def _answer(status: int, parsed: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    from botocore.awsrequest import AWSResponse, HTTPHeaders

    request_id = str(uuid.uuid4())
    headers = {"x-amzn-requestid": request_id, "content-type": "application/json"}
    url = "https://securityhub.local/findings/batchupdate"
    http_headers = HTTPHeaders()
    for name, value in headers.items():
        http_headers[name] = value
    http = AWSResponse(url, status, http_headers, None)
    parsed = {
        **parsed,
        "ResponseMetadata": {
            "RequestId": request_id,
            "HTTPStatusCode": status,
            "HTTPHeaders": headers,
            "RetryAttempts": 0,
        },
    }
    return http, parsed
