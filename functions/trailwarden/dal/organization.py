"""Organizations lookups of the hub (organisation mode): account names, member accounts.

Both are cached per warm container for :data:`CACHE_SECONDS` and never stop an alert:
a failed name lookup gives ``""`` (the alert shows the id alone), a failed account list
gives ``None`` (TrustedAccountIds=organization then trusts only the listed ids: narrower,
the safe side, with a warning).
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger

from trailwarden.workflows.declaration import Grant

if TYPE_CHECKING:
    from collections.abc import Callable

DESCRIBE_ACCOUNT_GRANT = Grant(
    actions=("organizations:DescribeAccount",),
    why="organisation mode: the account's name in alerts and audit records",
)
LIST_ACCOUNTS_GRANT = Grant(
    actions=("organizations:ListAccounts",),
    why="organisation mode: TrustedAccountIds=organization (no narrower resource exists)",
)
CACHE_SECONDS = 600.0
FAILURE_CACHE_SECONDS = 60.0  # a failing lookup is not repeated for every event

logger = Logger(child=True)


class Organization:
    def __init__(
        self, client: Callable[[], Any], *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._client = client
        self._clock = clock
        self._names: dict[str, tuple[str, float]] = {}
        self._accounts: tuple[frozenset[str] | None, float] | None = None
        self._lock = threading.Lock()

    def account_name(self, account: str) -> str:
        """The account's name, or ``""`` when it cannot be read."""
        now = self._clock()
        with self._lock:
            cached = self._names.get(account)
            if cached is not None and cached[1] > now:
                return cached[0]
        try:
            name = str(self._client().describe_account(AccountId=account)["Account"]["Name"])
            until = now + CACHE_SECONDS
        except Exception as err:
            logger.warning("account name lookup failed", extra={"error": type(err).__name__})
            name, until = "", now + FAILURE_CACHE_SECONDS
        with self._lock:
            self._names[account] = (name, until)
        return name

    def account_ids(self) -> frozenset[str] | None:
        """Every ACTIVE account of the organisation (ListAccounts, every page), or
        ``None`` when the list cannot be read."""
        now = self._clock()
        with self._lock:
            if self._accounts is not None and self._accounts[1] > now:
                return self._accounts[0]
        try:
            pages = self._client().get_paginator("list_accounts").paginate()
            ids: frozenset[str] | None = frozenset(
                str(a["Id"])
                for page in pages
                for a in page["Accounts"]
                # State replaced the deprecated Status (both are sent for now)
                if (a.get("State") or a.get("Status")) == "ACTIVE"
            )
            until = now + CACHE_SECONDS
        except Exception as err:
            logger.warning("organization account list failed", extra={"error": type(err).__name__})
            ids, until = None, now + FAILURE_CACHE_SECONDS
        with self._lock:
            self._accounts = (ids, until)
        return ids
