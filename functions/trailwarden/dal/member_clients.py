"""Clients in a member account (organisation mode): the hub assumes the member role.

In organisation mode every hub function acts where the event happened: the event's
``account`` and the record's ``awsRegion``. :meth:`MemberRoles.factory` gives the
ClientFactory domain code already takes; the first client it builds in a region assumes
``arn:<partition>:iam::<account>:role/trailwarden/member/<MemberRoleName>``:

- through the STS endpoint *of that region* (tokens of the global endpoint are refused
  in opt-in regions), in the region's partition (aws, aws-cn, aws-us-gov, ...);
- with the ``ExternalId`` the member role's trust requires;
- with a ``RoleSessionName`` that names the incident (``trailwarden-<workflow>-<event
  id>``), so the member's own CloudTrail says why each change happened, and a
  ``SourceIdentity`` ``trailwarden-<workflow>`` (stable: an SCP can name it), both
  reduced to what STS accepts (at most 64 characters of ``[\\w+=,.@-]``).

Credentials are cached per (account, region, session name) until shortly before they
expire. The session name is part of the key on purpose: a session named after another
incident would put the wrong reason into the member's CloudTrail. Repeated calls of one
incident (Lambda and Step Functions retries, several services) reuse it.

A role that cannot be assumed (missing, not trusting this hub role, wrong ExternalId, STS
off in the region) is one :class:`~trailwarden.models.errors.MemberUnreachable`.

The hub account is a member like any other here: it forwards its own events to the hub
bus and gets the member role from the same StackSet, so its events are handled through
that role too (one permission set, one own-call pattern, the incident in its CloudTrail).
"""

from __future__ import annotations

import re
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any

import boto3
from botocore.exceptions import ClientError

from trailwarden.dal.aws_errors import error_code, translate
from trailwarden.dal.clients import make_client
from trailwarden.models.errors import InvalidEvent, MemberUnreachable
from trailwarden.workflows.declaration import Grant, sub

if TYPE_CHECKING:
    from collections.abc import Callable

    from trailwarden.workflows.base import ClientFactory

MEMBER_ROLE_PATH = "/trailwarden/member/"
# What a hub function needs to act in members (organisation mode only: the generator
# adds it under the OrganizationMode condition to every function that uses this module).
ASSUME_MEMBER_ROLE_GRANT = Grant(
    actions=("sts:AssumeRole", "sts:SetSourceIdentity"),
    resources=(sub(f"arn:${{AWS::Partition}}:iam::*:role{MEMBER_ROLE_PATH}${{MemberRoleName}}"),),
    why="organisation mode: act in the event's account through its member role",
    # Only roles of accounts in the organisation: an event forwarded from elsewhere never
    # makes the hub act outside it.
    conditions={"StringEquals": {"aws:ResourceOrgID": {"Ref": "OrganizationId"}}},
)

MAX_NAME_CHARS = 64  # RoleSessionName and SourceIdentity
_NOT_NAME_CHAR = re.compile(r"[^\w+=,.@-]", re.ASCII)
_ACCOUNT = re.compile(r"\d{12}")
# Codes STS answers when the role is missing, does not trust us, or wants another
# ExternalId (all AccessDenied), or when STS is not activated in the region.
# A role missing or not trusting the hub; a region the hub cannot use for STS.
_UNREACHABLE_CODES = frozenset(
    {"AccessDenied", "AccessDeniedException", "RegionDisabledException", "InvalidClientTokenId"}
)
REFRESH_MARGIN_SECONDS = 300.0
MAX_SESSIONS = 64  # a warm container keeps at most this many sessions (LRU)


def aws_name(text: str) -> str:
    """``text`` as a RoleSessionName / SourceIdentity: every character STS refuses
    becomes ``-``, cut to 64 characters, at least 2 (``--`` padding)."""
    return _NOT_NAME_CHAR.sub("-", text)[:MAX_NAME_CHARS].ljust(2, "-")


def session_name(workflow: str, event_id: str) -> str:
    return aws_name(f"trailwarden-{workflow}-{event_id}")


def source_identity(workflow: str) -> str:
    return aws_name(f"trailwarden-{workflow}")


@cache
def partition_of(region: str) -> str:
    """Cached: a boto3 Session costs tens of milliseconds to build."""
    try:
        return str(boto3.session.Session().get_partition_for_region(region))
    except Exception:  # a region botocore does not know yet (a new partition)
        return "aws"


def member_role_arn(account: str, region: str, role_name: str) -> str:
    return f"arn:{partition_of(region)}:iam::{account}:role{MEMBER_ROLE_PATH}{role_name}"


def regional_sts(region: str) -> Any:
    """An STS client on the region's own endpoint, even where the SDK is configured for
    the global one (``AWS_STS_REGIONAL_ENDPOINTS=legacy``)."""
    client = make_client("sts", region)
    host = client.meta.endpoint_url.split("://", 1)[-1]
    if host.startswith("sts.amazonaws."):
        suffix = host.removeprefix("sts.")
        client = make_client("sts", region, endpoint_url=f"https://sts.{region}.{suffix}")
    return client


@dataclass
class _Session:
    credentials: dict[str, str]
    expires_at: float
    clients: dict[tuple[str, str], Any] = field(default_factory=dict)  # (service, region)


class MemberRoles:
    """Assumes member roles and caches their credentials and clients (one per warm
    container, kept in a handler's dependencies)."""

    def __init__(
        self,
        role_name: str,
        external_id: str,
        *,
        sts: Callable[[str], Any] = regional_sts,
        clock: Callable[[], float] = time.time,
        client: Callable[..., Any] = make_client,
    ) -> None:
        self.role_name = role_name
        self.external_id = external_id
        self._sts = sts
        self._clock = clock
        self._client = client
        self._sessions: OrderedDict[tuple[str, str, str], _Session] = OrderedDict()
        self._lock = threading.Lock()  # the local engine runs executions on threads

    def factory(
        self,
        account: str,
        *,
        workflow: str,
        event_id: str,
        default_region: str = "",
        sts_region: str = "",
    ) -> ClientFactory:
        """Clients in ``account``. Nothing is assumed until the first client is asked for
        (an ignored event costs no STS call). ``default_region`` serves ``region=None``
        (the region the event happened in). An account that is no account id raises
        InvalidEvent at the first client, not here (the event is parsed after).

        ``sts_region``: assume once, through that region's endpoint, for clients in every
        region (a regional endpoint's token is valid in every region, opt-in ones
        included): the organisation backstop reads every region of an account with one
        AssumeRole. Without it each region assumes through its own endpoint."""
        name = session_name(workflow, event_id)
        identity = source_identity(workflow)

        def client(service: str, region: str | None = None) -> Any:
            if not _ACCOUNT.fullmatch(account):
                raise InvalidEvent("the event names no 12-digit account to act in")
            where = region or default_region
            if not where:
                raise InvalidEvent("the event names no region to act in")
            session = self._session(account, sts_region or where, name, identity)
            key = (service, where)
            if key not in session.clients:
                session.clients[key] = self._client(service, where, credentials=session.credentials)
            return session.clients[key]

        return client

    def _session(self, account: str, region: str, name: str, identity: str) -> _Session:
        key = (account, region, name)
        with self._lock:
            session = self._sessions.get(key)
            if session is not None and session.expires_at - REFRESH_MARGIN_SECONDS > self._clock():
                self._sessions.move_to_end(key)
                return session
            session = self._assume(account, region, name, identity)
            self._sessions[key] = session
            while len(self._sessions) > MAX_SESSIONS:
                self._sessions.popitem(last=False)
            return session

    def _assume(self, account: str, region: str, name: str, identity: str) -> _Session:
        arn = member_role_arn(account, region, self.role_name)
        request: dict[str, Any] = {
            "RoleArn": arn,
            "RoleSessionName": name,
            "SourceIdentity": identity,
        }
        if self.external_id:
            request["ExternalId"] = self.external_id
        try:
            answer = self._sts(region).assume_role(**request)
        except ClientError as err:
            if error_code(err) in _UNREACHABLE_CODES:
                raise MemberUnreachable(
                    f"cannot reach account {account} in {region}: role missing or not "
                    f"trusted ({arn}; {error_code(err)})"
                ) from err
            raise translate(err) from err
        creds = answer["Credentials"]
        expiration = creds["Expiration"]
        return _Session(
            credentials={
                "aws_access_key_id": creds["AccessKeyId"],
                "aws_secret_access_key": creds["SecretAccessKey"],
                "aws_session_token": creds["SessionToken"],
            },
            expires_at=expiration.timestamp() if hasattr(expiration, "timestamp") else 0.0,
        )
