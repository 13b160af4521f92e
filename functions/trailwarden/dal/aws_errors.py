"""Translate botocore ClientError codes into the app's typed errors."""

from __future__ import annotations

from typing import TYPE_CHECKING

from trailwarden.models.errors import ResourceGone, TransientAwsError

if TYPE_CHECKING:
    from botocore.exceptions import ClientError

_TRANSIENT_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "ServiceUnavailable",
        "InternalError",
        "InternalFailure",
        "RequestTimeout",
    }
)


def error_code(err: ClientError) -> str:
    return str(err.response.get("Error", {}).get("Code", ""))


def translate(err: Exception, *, gone_codes: frozenset[str] = frozenset()) -> Exception:
    """Return the typed error for ``err`` (or ``err`` itself when it has no meaning to us)."""
    # botocore only once an AWS call failed: replay and detection-only code never load it
    from botocore.exceptions import BotoCoreError, ClientError

    if isinstance(err, ClientError):
        code = error_code(err)
        if code in gone_codes:
            return ResourceGone(code)
        status = int(err.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        if code in _TRANSIENT_CODES or status >= 500:
            return TransientAwsError(code or str(status))
    elif isinstance(err, BotoCoreError):
        return TransientAwsError(type(err).__name__)
    return err
