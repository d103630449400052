"""The body limit in front of the API: over the limit is a 413 problem before the application sees anything; under
it the application gets the whole body, and then the connection as it really is (a streaming response must not be
told the client left when it has not)."""

import asyncio
import json

from starlette.types import Message, Receive, Scope, Send

from api.body_limit import BodyLimit

LIMIT = 10


class App:
    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        self.after_body: list[Message] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.bodies.append((await receive())["body"])
        self.after_body.append(await receive())  # as a streaming response listens for the client going away
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


def scope(content_length: int | None = None) -> Scope:
    headers = [] if content_length is None else [(b"content-length", str(content_length).encode())]
    return {"type": "http", "method": "POST", "path": "/orders", "headers": headers}


async def call(app: App, request_scope: Scope, chunks: list[bytes], client_gone: asyncio.Event) -> list[Message]:
    incoming: list[Message] = [
        {"type": "http.request", "body": chunk, "more_body": n < len(chunks) - 1} for n, chunk in enumerate(chunks)
    ]
    sent: list[Message] = []

    async def receive() -> Message:
        if incoming:
            return incoming.pop(0)
        await client_gone.wait()
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    await BodyLimit(app, limit=LIMIT)(request_scope, receive, send)
    return sent


async def test_a_body_over_the_limit_is_refused_before_the_application_sees_it() -> None:
    app, gone = App(), asyncio.Event()
    declared = await call(app, scope(content_length=LIMIT + 1), [b"x" * (LIMIT + 1)], gone)
    streamed = await call(app, scope(), [b"x" * 6, b"y" * 6], gone)  # no Content-Length: counted as it comes
    for sent in (declared, streamed):
        assert sent[0]["status"] == 413
        assert json.loads(sent[1]["body"])["detail"] == f"the limit is {LIMIT} bytes"
    assert app.bodies == []


async def test_the_application_gets_the_whole_body_then_the_real_connection() -> None:
    app, gone = App(), asyncio.Event()
    answering = asyncio.create_task(call(app, scope(), [b"abc", b"def"], gone))
    await asyncio.sleep(0.05)
    assert not answering.done(), "the application is told the client left only when it has"
    gone.set()
    sent = await answering
    assert app.bodies == [b"abcdef"] and app.after_body == [{"type": "http.disconnect"}]
    assert sent[0]["status"] == 200
