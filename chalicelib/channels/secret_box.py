"""Webhook signing secrets at rest: KMS envelope encryption.

Each secret is sealed with a fresh 256-bit data key from KMS ``GenerateDataKey``
(AES-256-GCM, random 96-bit nonce); only the KMS-encrypted data key is kept with it.
The KMS encryption context names the channel, so a sealed secret copied onto another
channel does not open. Opening asks KMS ``Decrypt`` for the data key; opened secrets
are kept in memory for a bounded time, so a busy channel costs one KMS call per
container and period, not one per delivery.

Stored form: ``kms1:<b64 encrypted data key>:<b64 nonce>:<b64 ciphertext+tag>``.
A value without the prefix is a secret stored before encryption: it still opens (it is
re-sealed when the secret is rotated).
"""

from __future__ import annotations

import base64
import os
import threading
import time
from collections.abc import Callable
from typing import Any

PREFIX = "kms1:"
PURPOSE = "webhook-signing-secret"


class SecretBoxError(Exception):
    """A sealed secret that does not open (wrong channel, tampered, or the key is gone)."""


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _context(channel_id: int) -> dict[str, str]:
    return {"purpose": PURPOSE, "channel_id": str(channel_id)}


def _aad(channel_id: int) -> bytes:
    return f"{PURPOSE}:{channel_id}".encode()


def is_sealed(value: str | None) -> bool:
    return bool(value) and str(value).startswith(PREFIX)


class SecretBox:
    def __init__(
        self,
        kms: Callable[[], Any],
        key_id: str,
        cache_seconds: float = 300.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._kms = kms
        self.key_id = key_id
        self.cache_seconds = cache_seconds
        self.monotonic = monotonic
        self._opened: dict[tuple[int, str], tuple[float, str]] = {}
        self._lock = threading.Lock()

    def seal(self, channel_id: int, secret: str) -> str:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        data_key = self._kms().generate_data_key(
            KeyId=self.key_id, KeySpec="AES_256", EncryptionContext=_context(channel_id)
        )
        nonce = os.urandom(12)
        sealed = AESGCM(data_key["Plaintext"]).encrypt(nonce, secret.encode(), _aad(channel_id))
        return PREFIX + ":".join((_b64(data_key["CiphertextBlob"]), _b64(nonce), _b64(sealed)))

    def open(self, channel_id: int, stored: str) -> str:
        if not is_sealed(stored):
            return stored  # stored before encryption at rest
        now = self.monotonic()
        with self._lock:
            cached = self._opened.get((channel_id, stored))
            if cached and cached[0] > now:
                return cached[1]
        secret = self._open(channel_id, stored)
        if self.cache_seconds > 0:
            with self._lock:
                self._opened = {k: v for k, v in self._opened.items() if v[0] > now}
                self._opened[(channel_id, stored)] = (now + self.cache_seconds, secret)
        return secret

    def _open(self, channel_id: int, stored: str) -> str:
        from botocore.exceptions import ClientError
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        try:
            blob, nonce, sealed = (base64.b64decode(part) for part in stored[len(PREFIX) :].split(":"))
        except ValueError:
            raise SecretBoxError("malformed sealed secret") from None
        try:
            data_key = self._kms().decrypt(CiphertextBlob=blob, EncryptionContext=_context(channel_id))["Plaintext"]
            return AESGCM(data_key).decrypt(nonce, sealed, _aad(channel_id)).decode()
        except (ClientError, InvalidTag, ValueError) as exc:
            raise SecretBoxError(f"the sealed secret does not open: {type(exc).__name__}") from None
