"""The one place AWS clients are created (handlers call this; domain code takes clients)."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 3},
    connect_timeout=3,
    read_timeout=10,
)

# Security Hub is told last and must not eat the function's time, so its calls give up
# sooner: 2 attempts in all of 2 s connect and 5 s read (at most ~14 s). The default
# above may take 4 attempts (botocore's ``max_attempts`` counts retries) of 3 s + 10 s.
_SERVICE_CONFIGS = {
    "securityhub": Config(
        retries={"mode": "standard", "total_max_attempts": 2}, connect_timeout=2, read_timeout=5
    ),
}


def make_client(
    service: str,
    region: str | None = None,
    *,
    retries: bool = True,
    credentials: Mapping[str, str] | None = None,
    endpoint_url: str | None = None,
) -> Any:
    """Create a boto3 client with standard retries and explicit timeouts.

    ``retries=False`` is for calls that must not be repeated blindly: a retried
    SendTaskSuccess whose first attempt landed answers TaskTimedOut, which would be
    misread as an expired approval.

    ``credentials`` (``aws_access_key_id``, ``aws_secret_access_key``,
    ``aws_session_token``): an assumed role's (organisation mode, member_clients).
    """
    base = _SERVICE_CONFIGS.get(service, _CONFIG)
    config = base if retries else base.merge(Config(retries={"total_max_attempts": 1}))
    creds = credentials or {}
    session = boto3.session.Session(
        aws_access_key_id=creds.get("aws_access_key_id"),
        aws_secret_access_key=creds.get("aws_secret_access_key"),
        aws_session_token=creds.get("aws_session_token"),
    )
    return session.client(  # type: ignore[call-overload]
        service, region_name=region, config=config, endpoint_url=endpoint_url
    )


def client_cache() -> Callable[[str, str | None], Any]:
    """A client factory that builds each (service, region) client once: a handler keeps
    one in its cached dependencies, so a warm container reuses its clients (and their
    connection pools) instead of building a session per call."""

    @cache
    def client(service: str, region: str | None = None) -> Any:
        return make_client(service, region)

    return client
