"""The payload codec: AES-256-GCM with the key id in the metadata, rotation, clear failures; and the converter
built from settings."""

import base64
import os
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError
from temporalio.api.common.v1 import Payload
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DefaultFailureConverterWithEncodedAttributes

from domain.order import Customer
from hub.runtime.encryption import EncryptionCodec, Key, PayloadDecryptionError, data_converter
from hub.runtime.settings import EncryptionKey, TemporalSettings, to_env

SECRET = b'{"email": "ada@example.com", "name": "Ada Lovelace"}'


def key(key_id: str) -> Key:
    return Key(key_id, os.urandom(32))


def plain(data: bytes = SECRET) -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=data)


async def test_round_trip_hides_the_data_and_names_the_key() -> None:
    codec = EncryptionCodec([key("k1")])
    [encrypted] = await codec.encode([plain()])
    assert encrypted.metadata["encoding"] == b"binary/encrypted"
    assert encrypted.metadata["encryption-key-id"] == b"k1"
    assert b"ada@example.com" not in encrypted.SerializeToString()
    assert await codec.decode([encrypted]) == [plain()]


async def test_each_payload_gets_a_fresh_nonce() -> None:
    codec = EncryptionCodec([key("k1")])
    first, second = await codec.encode([plain(), plain()])
    assert first.data[:12] != second.data[:12]
    assert first.data != second.data


async def test_rotation_reads_old_payloads_and_writes_with_the_newest_key() -> None:
    a = key("a")
    old = EncryptionCodec([a])
    [written_with_a] = await old.encode([plain()])

    rotated = EncryptionCodec([a, key("b")])
    assert rotated.current_key_id == "b"
    assert await rotated.decode([written_with_a]) == [plain()]
    [written_now] = await rotated.encode([plain()])
    assert written_now.metadata["encryption-key-id"] == b"b"
    with pytest.raises(PayloadDecryptionError, match="'b', which is not configured"):
        await old.decode([written_now])


async def test_unknown_key_id_fails_clearly() -> None:
    [encrypted] = await EncryptionCodec([key("retired")]).encode([plain()])
    with pytest.raises(PayloadDecryptionError, match=r"key 'retired', which is not configured \(configured: k1\)"):
        await EncryptionCodec([key("k1")]).decode([encrypted])


async def test_tampered_ciphertext_fails() -> None:
    codec = EncryptionCodec([key("k1")])
    [encrypted] = await codec.encode([plain()])
    data = bytearray(encrypted.data)
    data[20] ^= 0x01
    tampered = Payload(metadata=encrypted.metadata, data=bytes(data))
    with pytest.raises(PayloadDecryptionError, match="does not authenticate"):
        await codec.decode([tampered])


async def test_relabelled_key_id_fails() -> None:
    """The key id is authenticated: the same key under another id does not decrypt."""
    secret = os.urandom(32)
    [encrypted] = await EncryptionCodec([Key("a", secret)]).encode([plain()])
    relabelled = Payload(metadata={**encrypted.metadata, "encryption-key-id": b"b"}, data=encrypted.data)
    with pytest.raises(PayloadDecryptionError):
        await EncryptionCodec([Key("a", secret), Key("b", secret)]).decode([relabelled])


async def test_unencrypted_payloads_pass_through_decoding() -> None:
    """Histories written before encryption was turned on stay readable."""
    assert await EncryptionCodec([key("k1")]).decode([plain()]) == [plain()]


def test_no_keys_means_the_plain_pydantic_converter() -> None:
    assert data_converter(TemporalSettings()) is pydantic_data_converter


async def test_keys_from_settings_and_files(tmp_path: Path) -> None:
    listed = base64.b64encode(os.urandom(32)).decode()
    newest = tmp_path / "2026-11"
    newest.write_text(base64.b64encode(os.urandom(32)).decode() + "\n")
    settings = TemporalSettings(
        encryption_keys=[EncryptionKey(id="2026-10", key=SecretStr(listed))], encryption_key_files=[newest]
    )
    converter = data_converter(settings)
    codec = converter.payload_codec
    assert isinstance(codec, EncryptionCodec)
    assert codec.current_key_id == "2026-11"
    assert isinstance(converter.failure_converter, DefaultFailureConverterWithEncodedAttributes)

    customer = Customer(id="c-1", email="ada@example.com", name="Ada Lovelace")
    [payload] = await converter.encode([customer])
    assert b"ada@example.com" not in payload.SerializeToString()
    assert await converter.decode([payload], [Customer]) == [customer]


def test_keys_are_validated_and_stay_secret() -> None:
    with pytest.raises(ValidationError, match="32 bytes"):
        EncryptionKey(id="short", key=SecretStr(base64.b64encode(b"too short").decode()))
    with pytest.raises(ValidationError, match="base64"):
        EncryptionKey(id="bad", key=SecretStr("not base64!"))
    secret = base64.b64encode(os.urandom(32)).decode()
    settings = TemporalSettings(encryption_keys=[EncryptionKey(id="k", key=SecretStr(secret))])
    assert secret not in repr(settings)
    assert secret not in settings.model_dump_json()
    # ... except when handed to a process the stack starts.
    assert secret in to_env(settings)["HUB_ENCRYPTION_KEYS"]


def test_environment_configures_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    from hub.runtime.settings import Settings

    secret = base64.b64encode(os.urandom(32)).decode()
    monkeypatch.setenv("HUB_TEMPORAL__ENCRYPTION_KEYS", f'[{{"id": "k1", "key": "{secret}"}}]')
    settings = Settings()
    assert [k.id for k in settings.temporal.encryption_keys] == ["k1"]
    assert isinstance(data_converter(settings.temporal).payload_codec, EncryptionCodec)


def test_the_stack_keeps_its_demo_key_between_runs(tmp_path: Path) -> None:
    from hub.dev.stack import demo_encryption_keys

    [first] = demo_encryption_keys(tmp_path)
    assert first.name == "demo-1"
    assert first.stat().st_mode & 0o077 == 0  # readable by its owner only
    written = first.read_text()
    assert demo_encryption_keys(tmp_path) == [first]
    assert first.read_text() == written
    rotated = tmp_path / "keys" / "demo-2"
    rotated.write_text(base64.b64encode(os.urandom(32)).decode())
    settings = TemporalSettings(encryption_key_files=demo_encryption_keys(tmp_path))
    codec = data_converter(settings).payload_codec
    assert isinstance(codec, EncryptionCodec)
    assert codec.current_key_id == "demo-2"
