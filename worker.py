"""``python worker.py``: a worker for the order and return workflows, against whatever Temporal address
``HUB_TEMPORAL__ADDRESS`` names, until SIGTERM or SIGINT.

Stopping is graceful: the worker stops taking tasks, lets the activities it is running finish (for up to
``HUB_WORKER__GRACEFUL_SHUTDOWN_TIMEOUT``, then cancels them) and exits 0, so a deploy does not cut a payment or a
label purchase in half.

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
        # Leaving the context drains: running activities finish (up to the timeout) before the connectors close.
        log.info("worker_stopping", drain_s=settings.worker.graceful_shutdown_timeout.total_seconds())
    log.info("worker_stopped")


if __name__ == "__main__":
    uvloop.run(main())
