"""Random opaque ids, the per-request nonce key, page nonces, and stored hashes.

A page nonce is stateless: ``nonce = HMAC-SHA256(key, "<id hash>|<expiresAt>")``,
base64url without padding (43 characters, the same shape as an id). ``key`` is 256
random bits drawn by RequestApproval for that one request and kept only in its
DynamoDB item (never in a link, page, message or log). See
:mod:`trailwarden.approvals.service` for why the nonce is per request, not per page.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets

SECRET_BYTES = 32  # 256 bits: ids, keys and nonces cannot be guessed
_WELL_FORMED = re.compile(r"^[A-Za-z0-9_-]{43}$")  # token_urlsafe(32)
MAX_TASK_TOKEN_LENGTH = 2048  # Step Functions task tokens are up to 2048 characters


def new_secret() -> str:
    """A URL-safe random string (an approval id or a request's nonce key)."""
    return secrets.token_urlsafe(SECRET_BYTES)


def digest(secret: str) -> str:
    """What is stored for a secret: its SHA-256, hex. The secret itself never is."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def well_formed(value: str) -> bool:
    """Cheap shape check before any lookup: tampered or truncated values stop here."""
    return bool(_WELL_FORMED.fullmatch(value))


def page_nonce(key: str, id_hash: str, expires_at: int) -> str:
    """The nonce every page of one request carries: bound to its id (hash) and expiry."""
    mac = hmac.new(key.encode("utf-8"), f"{id_hash}|{expires_at}".encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(mac.digest()).rstrip(b"=").decode("ascii")


def nonce_matches(nonce: str, key: str, id_hash: str, expires_at: int) -> bool:
    """Constant-time check of a posted nonce against the request's own."""
    if not key or not well_formed(nonce):
        return False
    return hmac.compare_digest(nonce, page_nonce(key, id_hash, expires_at))
