"""The benchmark's yardstick: a workflow that runs ``steps`` no-op activities one after another, as the order saga
runs its steps, and does nothing else. Whatever the hub does beyond that (upstream calls, signals from webhooks,
search-attribute upserts, payload sizes) is what the ratio ``orders_per_s / reference_per_s`` measures.

The yardstick runs regular activities, as the hub's saga does. Asked with ``local=True`` it runs them as local
activities: the bench reports that floor too (``reference_local_per_s``), the one a design on local activities
would be held to (docs/benchmarks.md says why the saga is not one).

    python -m hub.verify.bench.reference --address 127.0.0.1:7233 --task-queue reference   # a worker, until SIGTERM

The worker's entry point is guarded by ``__name__``: Temporal's workflow sandbox re-imports this module for
every workflow run, and must find only definitions here.
"""

import argparse
import asyncio
import signal
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.worker import Worker

WORKFLOW = "ReferenceWorkflow"


@activity.defn
async def noop(step: int) -> int:
    return step


@workflow.defn(name=WORKFLOW)
class ReferenceWorkflow:
    @workflow.run
    async def run(self, steps: int, local: bool = False) -> int:
        done = 0
        timeout = timedelta(seconds=30)
        for step in range(steps):
            if local:
                done += await workflow.execute_local_activity(noop, step, start_to_close_timeout=timeout) >= 0
            else:
                done += await workflow.execute_activity(noop, step, start_to_close_timeout=timeout) >= 0
        return done


async def serve(address: str, task_queue: str) -> None:
    """A reference worker on ``task_queue`` until SIGTERM/SIGINT."""
    client = await Client.connect(address)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    async with Worker(client, task_queue=task_queue, workflows=[ReferenceWorkflow], activities=[noop]):
        await stop.wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--address", required=True)
    parser.add_argument("--task-queue", required=True)
    arguments = parser.parse_args()
    asyncio.run(serve(arguments.address, arguments.task_queue))
