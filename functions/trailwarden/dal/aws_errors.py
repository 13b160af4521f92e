"""Translate botocore ClientError codes into the app's typed errors."""

from __future__ import annotations

from botocore.exceptions import BotoCoreError, ClientError

from trailwarden.models.errors import ResourceGone, TransientAwsError

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
