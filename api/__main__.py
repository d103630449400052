"""``python -m api``: the API process. The composition (settings → Temporal client → connectors → app) is
``hub.runtime.bootstrap``; this serves the app over HTTP."""

import structlog
import uvicorn
import uvloop

from api.app import create_app
from hub.runtime import bootstrap

log = structlog.get_logger("hub.api")


async def main() -> None:
    settings = bootstrap.load_settings()
    async with bootstrap.api_app(settings, create_app) as app:
        config = uvicorn.Config(app, host=settings.api.host, port=settings.api.port, log_config=None, access_log=False)
        log.info("api_started", url=f"http://{settings.api.host}:{settings.api.port}")
        await uvicorn.Server(config).serve()


if __name__ == "__main__":
    uvloop.run(main())
