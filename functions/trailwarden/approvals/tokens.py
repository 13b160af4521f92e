"""Random opaque ids and nonces, and the hashes under which they are stored."""

from __future__ import annotations

import hashlib
import re
import secrets

SECRET_BYTES = 32  # 256 bits: ids and nonces cannot be guessed
_WELL_FORMED = re.compile(r"^[A-Za-z0-9_-]{43}$")  # token_urlsafe(32)
MAX_TASK_TOKEN_LENGTH = 2048  # Step Functions task tokens are up to 2048 characters


def new_secret() -> str:
    """A URL-safe random string (an approval id or a page nonce)."""
    return secrets.token_urlsafe(SECRET_BYTES)


def digest(secret: str) -> str:
    """What is stored for a secret: its SHA-256, hex. The secret itself never is."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def well_formed(value: str) -> bool:
    """Cheap shape check before any lookup: tampered or truncated values stop here."""
    return bool(_WELL_FORMED.fullmatch(value))
