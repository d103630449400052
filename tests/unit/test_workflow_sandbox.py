"""The workflows' runner skips the sandbox round trips for serialization contexts only when no context can change
a payload: the hub's converter, plain or encrypted. A context-aware codec gets the SDK's own behaviour back."""

import base64
import dataclasses
from collections.abc import Sequence
from typing import Self

from temporalio.api.common.v1 import Payload
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import PayloadCodec, SerializationContext, WithSerializationContext
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

from hub.runtime.encryption import data_converter
from hub.runtime.sandbox import ContextFreeRunner, context_free, workflow_runner
from hub.runtime.settings import EncryptionKey, TemporalSettings


class _PerWorkflowCodec(PayloadCodec, WithSerializationContext):
    """A codec that would write something else per workflow (a key per tenant, say)."""

    def __init__(self, context: SerializationContext | None = None) -> None:
        self.context = context

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return list(payloads)

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return list(payloads)

    def with_context(self, context: SerializationContext) -> Self:
        return type(self)(context)


def test_the_hub_converter_plain_or_encrypted_ignores_serialization_contexts() -> None:
    key = EncryptionKey.model_validate({"id": "k1", "key": base64.b64encode(bytes(32)).decode()})
    encrypted = data_converter(TemporalSettings(encryption_keys=[key]))
    assert encrypted.payload_codec is not None  # really the encrypting one
    for converter in (pydantic_data_converter, encrypted):
        assert context_free(converter)
        assert isinstance(workflow_runner(converter), ContextFreeRunner)


def test_a_context_aware_codec_keeps_the_sandbox_answering() -> None:
    aware = dataclasses.replace(pydantic_data_converter, payload_codec=_PerWorkflowCodec())
    assert not context_free(aware)
    assert isinstance(workflow_runner(aware), SandboxedWorkflowRunner)
