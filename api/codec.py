"""The codec server: ``POST /codec/decode`` and ``/codec/encode``, so the Temporal Web UI and CLI can show what
the encrypted payloads of a history say, to people holding a key with the ``codec:decode`` scope.

Temporal's remote codec protocol: a JSON body ``{"payloads": [{"metadata": {name: base64}, "data": base64}]}``
(the protobuf JSON form of ``Payloads``), answered in the same form; the ``X-Namespace`` header names the
namespace. Browsers may call it only from the configured Web UI origin (``api.codec_cors_origin``): a request
from any other origin is refused and gets no CORS headers, so a page elsewhere cannot read decrypted data.
"""

import base64
import binascii
from collections.abc import Awaitable, Callable, Sequence
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, field_validator
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

from api.auth import Authenticator
from api.problems import Problem, documented
from hub.runtime.api_keys import CODEC
from hub.runtime.encryption import PayloadDecryptionError

ALLOWED_HEADERS = "Authorization, Content-Type, X-Namespace"


def _b64decode(value: str) -> bytes:
    # Protobuf JSON writes standard base64 and accepts the URL-safe alphabet too; so do we.
    try:
        return base64.b64decode(value, validate=True)
    except binascii.Error:
        try:
            return base64.b64decode(value + "=" * (-len(value) % 4), altchars=b"-_", validate=True)
        except binascii.Error:
            raise ValueError("not base64") from None


class CodecPayload(BaseModel):
    """One ``temporal.api.common.v1.Payload`` in protobuf JSON: bytes as base64."""

    metadata: dict[str, str] = {}
    data: str = ""

    @field_validator("metadata")
    @classmethod
    def _metadata_base64(cls, value: dict[str, str]) -> dict[str, str]:
        for item in value.values():
            _b64decode(item)
        return value

    @field_validator("data")
    @classmethod
    def _data_base64(cls, value: str) -> str:
        _b64decode(value)
        return value

    def to_proto(self) -> Payload:
        return Payload(metadata={k: _b64decode(v) for k, v in self.metadata.items()}, data=_b64decode(self.data))

    @classmethod
    def of(cls, payload: Payload) -> "CodecPayload":
        return cls(
            metadata={k: base64.b64encode(v).decode() for k, v in payload.metadata.items()},
            data=base64.b64encode(payload.data).decode(),
        )


class CodecPayloads(BaseModel):
    payloads: list[CodecPayload] = []


def codec_router(codec: PayloadCodec, auth: Authenticator, *, namespace: str, ui_origin: str | None) -> APIRouter:
    router = APIRouter(prefix="/codec", tags=["codec"])

    def cors_headers(origin: str | None) -> dict[str, str]:
        if origin is None or origin != ui_origin:
            return {}
        return {
            "Access-Control-Allow-Origin": origin,
            "Access-Control-Allow-Credentials": "true",
            "Vary": "Origin",
        }

    async def allowed(request: Request) -> dict[str, str]:
        """Origin, then key, then namespace; the CORS headers this request's answers carry."""
        origin = request.headers.get("origin")
        if origin is not None and origin != ui_origin:
            raise Problem(403, "Forbidden", "this origin may not call the codec server")
        cors = cors_headers(origin)
        scopes = auth.scopes_of(request.headers.get("authorization"))
        if scopes is None:
            raise Problem(
                401, "Unauthorized", "a valid bearer API key is required", {"WWW-Authenticate": "Bearer", **cors}
            )
        if CODEC not in scopes:
            raise Problem(403, "Forbidden", f"this key lacks the {CODEC} scope", cors)
        asked = request.headers.get("x-namespace")
        if asked is not None and asked != namespace:
            raise Problem(400, "Unknown namespace", f"this codec serves namespace {namespace!r}", cors)
        return cors

    Cors = Annotated[dict[str, str], Depends(allowed)]

    async def apply(
        convert: Callable[[Sequence[Payload]], Awaitable[list[Payload]]], body: CodecPayloads, cors: dict[str, str]
    ) -> JSONResponse:
        try:
            converted = await convert([payload.to_proto() for payload in body.payloads])
        except PayloadDecryptionError as error:
            raise Problem(400, "Cannot decode", str(error), cors) from None
        answer = CodecPayloads(payloads=[CodecPayload.of(payload) for payload in converted])
        return JSONResponse(answer.model_dump(), headers=cors)

    @router.post("/decode", response_model=CodecPayloads, responses=documented(400, 401, 403, 422))
    async def decode(body: CodecPayloads, cors: Cors) -> JSONResponse:
        """Decrypt payloads (the Web UI's and CLI's remote codec); needs the ``codec:decode`` scope."""
        return await apply(codec.decode, body, cors)

    @router.post("/encode", response_model=CodecPayloads, responses=documented(400, 401, 403, 422))
    async def encode(body: CodecPayloads, cors: Cors) -> JSONResponse:
        """Encrypt payloads with the current key (what the Web UI sends as a signal's input, say)."""
        return await apply(codec.encode, body, cors)

    async def preflight(request: Request) -> Response:
        """CORS preflight: answered for the Web UI's origin only; browsers send it without credentials."""
        origin = request.headers.get("origin")
        if origin is None or origin != ui_origin:
            return Response(status_code=403)
        return Response(
            status_code=204,
            headers={
                **cors_headers(origin),
                "Access-Control-Allow-Methods": "POST",
                "Access-Control-Allow-Headers": ALLOWED_HEADERS,
                "Access-Control-Max-Age": "600",
            },
        )

    router.add_api_route("/decode", preflight, methods=["OPTIONS"], include_in_schema=False)
    router.add_api_route("/encode", preflight, methods=["OPTIONS"], include_in_schema=False)
    return router
