"""Record the AWS operations each function really calls, as IAM actions.

A botocore ``before-call`` handler is added to ``botocore.handlers.BUILTIN_HANDLERS``
(like moto adds its own stubber), so every client created while the engine runs carries
it. The handler only records while a function invocation is active in the calling
context (a :class:`~contextvars.ContextVar` set by the Lambda runtime), so calls made by
moto's Step Functions executor itself (outside an invocation) are not attributed.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.handlers import BUILTIN_HANDLERS

if TYPE_CHECKING:
    from collections.abc import Iterator

_UNIQUE_ID = "trailwarden-local-operation-recorder"

# botocore signing names that differ from the IAM action prefix.
_IAM_PREFIX = {"monitoring": "cloudwatch"}


@dataclass(frozen=True)
class ActiveInvocation:
    """The function invocation running in the current context."""

    logical_id: str
    recorder: OperationRecorder


_ACTIVE: ContextVar[ActiveInvocation | None] = ContextVar(
    "trailwarden_local_active_invocation", default=None
)


def active_invocation() -> ActiveInvocation | None:
    return _ACTIVE.get()


def _before_call(model: Any = None, **_kwargs: Any) -> None:
    active = _ACTIVE.get()
    if active is None or model is None:
        return
    prefix = str(model.service_model.signing_name)
    active.recorder.record(active.logical_id, f"{_IAM_PREFIX.get(prefix, prefix)}:{model.name}")


_HOOK = ("before-call", _before_call)


class OperationRecorder:
    """Collects ``service:Operation`` per function logical id."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._operations: dict[str, set[str]] = {}
        self._calls: list[tuple[str, str]] = []
        self._session_registered: Any = None

    def install(self) -> None:
        if _HOOK not in BUILTIN_HANDLERS:
            BUILTIN_HANDLERS.append(_HOOK)
        # Clients made later from an already-created boto3 default session (tests that
        # called boto3.client() before the engine started) would miss BUILTIN_HANDLERS.
        import boto3

        default = boto3.DEFAULT_SESSION
        if default is not None:
            default._session.register("before-call", _before_call, unique_id=_UNIQUE_ID)
            self._session_registered = default

    def uninstall(self) -> None:
        while _HOOK in BUILTIN_HANDLERS:
            BUILTIN_HANDLERS.remove(_HOOK)
        if self._session_registered is not None:
            self._session_registered._session.unregister(
                "before-call", _before_call, unique_id=_UNIQUE_ID
            )
            self._session_registered = None

    @contextmanager
    def invocation(self, logical_id: str) -> Iterator[None]:
        """Attribute calls made in this context to ``logical_id`` (nesting restores)."""
        token = _ACTIVE.set(ActiveInvocation(logical_id, self))
        try:
            yield
        finally:
            _ACTIVE.reset(token)

    def record(self, logical_id: str, action: str) -> None:
        with self._lock:
            self._operations.setdefault(logical_id, set()).add(action)
            self._calls.append((logical_id, action))

    def operations_by_function(self) -> dict[str, set[str]]:
        with self._lock:
            return {key: set(value) for key, value in self._operations.items()}

    def calls(self) -> list[tuple[str, str]]:
        """Every recorded call in order, as (function logical id, action)."""
        with self._lock:
            return list(self._calls)

    def clear(self) -> None:
        with self._lock:
            self._operations.clear()
            self._calls.clear()
