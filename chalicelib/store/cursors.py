"""Opaque, signed pagination cursors.

A cursor carries where a list stopped (DynamoDB keys, and across shards the merge
state), so it must neither be forged (a crafted ``ExclusiveStartKey`` would reach
DynamoDB) nor read (the keys list stops on a token hash). The state is encrypted
with a keystream of HMAC-SHA256 blocks (a PRF in counter mode, standard library
only) and authenticated with HMAC-SHA256 over nonce, ciphertext and *scope*: the
route and its filters. A cursor that does not verify, or was issued for another
route or other filters, is refused as a 422 on ``query.cursor``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
from typing import Any

from chalicelib.domain.errors import InvalidField
from chalicelib.settings import get_settings

NONCE_BYTES = 12
TAG_BYTES = 16
_process_key = os.urandom(32)  # when no secret is configured (tests, the local stack): one per process


def _keys() -> tuple[bytes, bytes]:
    secret = get_settings().cursor_secret
    root = secret.encode() if secret else _process_key
    return (
        hmac.new(root, b"valhalla-cursor-encrypt", hashlib.sha256).digest(),
        hmac.new(root, b"valhalla-cursor-mac", hashlib.sha256).digest(),
    )


def _keystream(key: bytes, nonce: bytes, length: int) -> bytes:
    blocks = []
    for counter in range((length + 31) // 32):
        blocks.append(hmac.new(key, nonce + counter.to_bytes(4, "big"), hashlib.sha256).digest())
    return b"".join(blocks)[:length]


def _xor(data: bytes, stream: bytes) -> bytes:
    return bytes(a ^ b for a, b in zip(data, stream, strict=True))


def _tag(key: bytes, scope: str, nonce: bytes, sealed: bytes) -> bytes:
    return hmac.new(key, scope.encode() + b"\0" + nonce + sealed, hashlib.sha256).digest()[:TAG_BYTES]


def seal(state: Any, scope: str) -> str | None:
    """The cursor for ``state`` on ``scope`` (None when there is nothing more to read)."""
    if not state:
        return None
    encrypt_key, mac_key = _keys()
    plain = json.dumps(state, separators=(",", ":"), sort_keys=True).encode()
    nonce = os.urandom(NONCE_BYTES)
    sealed = _xor(plain, _keystream(encrypt_key, nonce, len(plain)))
    raw = nonce + sealed + _tag(mac_key, scope, nonce, sealed)
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _refuse() -> InvalidField:
    return InvalidField(
        "cursor", "Invalid cursor: use the next_cursor of the same list with the same filters.", "value_error.cursor"
    )


def unseal(cursor: str | None, scope: str) -> Any:
    """The state a cursor carries, or 422 if it was not issued by us for this scope."""
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode((cursor + "=" * (-len(cursor) % 4)).encode("ascii"))
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raise _refuse() from None
    if len(raw) <= NONCE_BYTES + TAG_BYTES:
        raise _refuse()
    nonce, sealed, tag = raw[:NONCE_BYTES], raw[NONCE_BYTES:-TAG_BYTES], raw[-TAG_BYTES:]
    encrypt_key, mac_key = _keys()
    if not hmac.compare_digest(tag, _tag(mac_key, scope, nonce, sealed)):
        raise _refuse()
    try:
        return json.loads(_xor(sealed, _keystream(encrypt_key, nonce, len(sealed))))
    except ValueError:  # only a key change between seal and unseal gets here
        raise _refuse() from None


def scope_of(route: str, **filters: Any) -> str:
    """The scope a cursor is bound to: the route and its filters, in a canonical form."""
    shown = "&".join(f"{name}={filters[name]}" for name in sorted(filters) if filters[name] is not None)
    return f"{route}?{shown}"
