"""Payload encryption: customer data (names, emails, addresses) reaches the Temporal server only as AES-256-GCM
ciphertext, and the data converter every process uses is built here, from settings.

Each encrypted payload carries, in plain metadata, ``encoding: binary/encrypted`` and the id of the key that
encrypted it (``encryption-key-id``); its data is a fresh 96-bit nonce followed by the ciphertext of the whole
original payload (metadata and data), authenticated together with the key id. Rotation: payloads are always
encrypted with the newest configured key and decrypted with whichever configured key their id names, so adding
a key changes what is written, not what can be read; a key is removed only once no open workflow's history
(or retained closed one you still want to read) uses it.

Payloads without ``binary/encrypted`` pass through decoding untouched: histories written before encryption was
turned on stay readable.
"""

import base64
import os
from collections.abc import Sequence
from dataclasses import dataclass, replace

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic import SecretStr
from temporalio.api.common.v1 import Payload
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes, PayloadCodec

from hub.runtime.settings import EncryptionKey, TemporalSettings

ENCODING = b"binary/encrypted"
KEY_ID = "encryption-key-id"
NONCE_BYTES = 12


class PayloadDecryptionError(ValueError):
    """A payload that cannot be decrypted: its key is not configured, or its bytes were altered."""


@dataclass(frozen=True)
class Key:
    id: str
    secret: bytes


class EncryptionCodec(PayloadCodec):
    """AES-256-GCM over whole payloads, with key rotation. ``keys`` are ordered oldest first."""

    def __init__(self, keys: Sequence[Key]) -> None:
        if not keys:
            raise ValueError("EncryptionCodec needs at least one key")
        ids = [key.id for key in keys]
        if len(set(ids)) != len(ids):
            raise ValueError(f"encryption key ids must be unique, got {ids}")
        self._ciphers = {key.id: AESGCM(key.secret) for key in keys}
        self._current = keys[-1].id

    @property
    def current_key_id(self) -> str:
        return self._current

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self._encrypt(payload) for payload in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [
            self._decrypt(payload) if payload.metadata.get("encoding") == ENCODING else payload for payload in payloads
        ]

    def _encrypt(self, payload: Payload) -> Payload:
        key_id = self._current.encode()
        nonce = os.urandom(NONCE_BYTES)
        # The key id is authenticated too: a payload relabelled with another key id fails, not misdecrypts.
        sealed = self._ciphers[self._current].encrypt(nonce, payload.SerializeToString(), key_id)
        return Payload(metadata={"encoding": ENCODING, KEY_ID: key_id}, data=nonce + sealed)

    def _decrypt(self, payload: Payload) -> Payload:
        key_id = payload.metadata.get(KEY_ID, b"").decode(errors="replace")
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise PayloadDecryptionError(
                f"payload encrypted with key {key_id!r}, which is not configured "
                f"(configured: {', '.join(sorted(self._ciphers))}); add it to HUB_TEMPORAL__ENCRYPTION_KEYS"
            )
        data = payload.data
        try:
            plain = cipher.decrypt(data[:NONCE_BYTES], data[NONCE_BYTES:], key_id.encode())
        except InvalidTag:
            raise PayloadDecryptionError(
                f"payload encrypted with key {key_id!r} does not authenticate: altered, or a different key "
                "under that id"
            ) from None
        return Payload.FromString(plain)


def configured_keys(settings: TemporalSettings) -> list[Key]:
    """``encryption_keys``, then one key per ``encryption_key_files`` file (id: the file name), oldest first."""
    listed = [*settings.encryption_keys]
    for path in settings.encryption_key_files:
        listed.append(EncryptionKey(id=path.name, key=SecretStr(path.read_text().strip())))
    return [Key(key.id, base64.b64decode(key.key.get_secret_value().strip())) for key in listed]


def data_converter(settings: TemporalSettings) -> DataConverter:
    """The data converter for every client and worker: pydantic JSON, encrypted when keys are configured.

    With encryption, failure messages and stack traces move into an encoded attribute too, since they can
    quote customer data; without keys this is exactly ``pydantic_data_converter``."""
    keys = configured_keys(settings)
    if not keys:
        return pydantic_data_converter
    return replace(
        pydantic_data_converter,
        payload_codec=EncryptionCodec(keys),
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )
