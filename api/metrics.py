"""The API's own counter, ``hub_api_requests{route, method, status}``, on the Prometheus endpoint of the API's
Temporal runtime (``HUB_METRICS__API_BIND_ADDRESS``); a no-op meter when that is unset.

``route`` is the route's template (``/orders/{order_id}``), never the path: ids stay out of label values, which
keeps the series few.

A plain ASGI middleware, not ``@app.middleware("http")``: Starlette's ``BaseHTTPMiddleware`` runs every request
through an extra task and memory stream, which cost more than the webhook handlers behind it.
"""

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from temporalio.common import MetricCounter, MetricMeter


def install(app: FastAPI, meter: MetricMeter) -> None:
    requests = meter.create_counter("hub_api_requests", "API requests answered, by route template, method and status")
    app.add_middleware(RequestCounter, counter=requests)


class RequestCounter:
    def __init__(self, app: ASGIApp, counter: MetricCounter) -> None:
        self.app = app
        self.counter = counter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500  # what the server answers if the app fails before starting a response

        async def send_noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_noting_status)
        finally:
            # The router wrote the matched route into this same scope.
            route = getattr(scope.get("route"), "path", "unmatched")
            self.counter.add(1, {"route": route, "method": scope["method"], "status": str(status)})
