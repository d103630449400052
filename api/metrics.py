"""The API's own counter, ``hub_api_requests{route, method, status}``, on the Prometheus endpoint of the API's
Temporal runtime (``HUB_METRICS__API_BIND_ADDRESS``); a no-op meter when that is unset.

``route`` is the route's template (``/orders/{order_id}``), never the path: ids stay out of label values, which
keeps the series few.
"""

from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response
from temporalio.common import MetricMeter


def install(app: FastAPI, meter: MetricMeter) -> None:
    requests = meter.create_counter("hub_api_requests", "API requests answered, by route template, method and status")

    @app.middleware("http")
    async def count_requests(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        response = await call_next(request)
        route = getattr(request.scope.get("route"), "path", "unmatched")
        requests.add(1, {"route": route, "method": request.method, "status": str(response.status_code)})
        return response
