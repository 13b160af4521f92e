"""Typed errors. Step Functions catches these by class name (``errorType``).

Adapters translate botocore ``ClientError`` codes into these with
``raise ... from err`` so the state machines can Retry/Catch on meaning, not on
AWS error strings.
"""

from __future__ import annotations


class TrailwardenError(Exception):
    """Base class of every error the app raises on purpose."""


class InvalidEvent(TrailwardenError):  # noqa: N818 - name is the ASL contract
    """The input is not an event this function can act on."""


class ResourceGone(TrailwardenError):  # noqa: N818
    """The resource named by the event no longer exists (deleted, deregistered)."""


class TransientAwsError(TrailwardenError):
    """Throttling or a 5xx from AWS: safe to retry."""


class RemediationRefused(TrailwardenError):  # noqa: N818
    """The fix would be unsafe or is not allowed (e.g. wrong region, shadow trail)."""


class RemediationFailed(TrailwardenError):  # noqa: N818
    """The fix was attempted but the re-read shows the bad state is still there."""


class NotificationFailed(TrailwardenError):  # noqa: N818
    """A notification channel could not deliver the message."""


class MemberUnreachable(TrailwardenError):  # noqa: N818
    """Organisation mode: the member role of an account cannot be assumed (missing, not
    trusting the hub, wrong ExternalId, STS off in the region). Never transient."""


# Every name a state machine may catch. The contract test checks the ASL uses no other.
ERROR_NAMES: tuple[str, ...] = tuple(
    cls.__name__
    for cls in (
        TrailwardenError,
        InvalidEvent,
        ResourceGone,
        TransientAwsError,
        RemediationRefused,
        RemediationFailed,
        NotificationFailed,
        MemberUnreachable,
    )
)
