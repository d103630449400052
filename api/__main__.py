"""``python -m api``: the API process. Composition: settings → Temporal client + upstream connectors → app."""

import structlog
import uvicorn
import uvloop

from api.app import create_app
from hub.logging import configure_logging
from hub.settings import Settings
from hub.telemetry import prometheus_runtime, tracing_interceptors
from hub.upstreams import connect_temporal, open_upstreams

log = structlog.get_logger("hub.api")


async def main() -> None:
    settings = Settings()
    configure_logging(settings.log_format, settings.log_level)
    temporal = await connect_temporal(
        settings,
        runtime=prometheus_runtime(settings.metrics.api_bind_address),
        interceptors=tracing_interceptors(settings.tracing, "api"),
    )
    async with open_upstreams(settings) as upstreams:
        app = create_app(settings, temporal, upstreams)
        config = uvicorn.Config(app, host=settings.api.host, port=settings.api.port, log_config=None, access_log=False)
        log.info("api_started", url=f"http://{settings.api.host}:{settings.api.port}")
        await uvicorn.Server(config).serve()


if __name__ == "__main__":
    uvloop.run(main())
