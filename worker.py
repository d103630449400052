"""``python worker.py``: a worker for the order and return workflows, against whatever Temporal address
``HUB_TEMPORAL__ADDRESS`` names, until SIGTERM or SIGINT.

The composition (settings → Temporal client → connectors → activities → worker) is ``hub.runtime.bootstrap``.
"""

import asyncio
import signal

import structlog
import uvloop

from hub.runtime import bootstrap

log = structlog.get_logger("hub.worker")


async def main() -> None:
    settings = bootstrap.load_settings()
    client = await bootstrap.connect_worker_client(settings)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    async with bootstrap.running_worker(client, settings):
        log.info(
            "worker_started",
            address=settings.temporal.address,
            task_queue=settings.temporal.task_queue,
            metrics=settings.metrics.bind_address,
            tracing=settings.tracing.exporter,
        )
        await stop.wait()
        log.info("worker_stopping")  # leaving the context drains in-flight activities


if __name__ == "__main__":
    uvloop.run(main())
