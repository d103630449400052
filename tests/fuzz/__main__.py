"""``python -m tests.fuzz`` (``make fuzz``): thousands of generated scenarios on a dev server of its own, over the
in-memory upstreams; prints how many ran, the violations by invariant family and the seeds that broke them (each
failure shrunk and with the command that runs it again). Exit 1 on any violation.

    python -m tests.fuzz --count 5000              # seeds 1..5000, every kind of event
    python -m tests.fuzz --seed 4242               # one scenario again (what a failure prints)
    python -m tests.fuzz --kinds short             # only the kinds the short run in make test drives
"""

import argparse
import asyncio
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from hub.dev.harness import DevServer
from hub.runtime.logging import configure_logging
from tests.fuzz.driven import SHORT_RUN_KINDS
from tests.fuzz.runner import fuzz_hub, report, run_many, shrink
from tests.fuzz.scenario import KINDS, generate


def _kinds(value: str) -> frozenset[str]:
    if value == "all":
        return KINDS
    if value == "short":
        return SHORT_RUN_KINDS
    chosen = frozenset(value.split(","))
    if unknown := sorted(chosen - KINDS):
        raise argparse.ArgumentTypeError(f"unknown kinds {unknown}; known: {sorted(KINDS)}")
    return chosen


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.fuzz", description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=5000, help="scenarios to run (seeds first..first+count-1)")
    parser.add_argument("--first", type=int, default=1, help="the first seed")
    parser.add_argument("--seed", type=int, help="run this one seed only (and shrink it if it fails)")
    parser.add_argument("--kinds", type=_kinds, default=KINDS, help="all (default), short, or kinds a,b,c")
    parser.add_argument("--concurrency", type=int, default=64, help="scenarios under way at once")
    parser.add_argument("--restart-every", type=float, default=20.0, help="replace the worker this often (s); 0: never")
    parser.add_argument("--shrink", type=int, default=3, help="shrink at most this many failures")
    return parser.parse_args()


async def _main(args: argparse.Namespace) -> int:
    # The worker's own warnings (every scripted fault is one) would drown the report: errors only.
    configure_logging("console", level="ERROR")
    seeds = [args.seed] if args.seed is not None else list(range(args.first, args.first + args.count))
    named = {SHORT_RUN_KINDS: "short", KINDS: "all"}
    kinds_flag = named.get(args.kinds, ",".join(sorted(args.kinds)))
    scenarios = [generate(seed, args.kinds) for seed in seeds]
    with tempfile.TemporaryDirectory(prefix="fuzz-") as scratch:
        server = DevServer(Path(scratch), db_file=None)
        server.launch()
        try:
            await server.up()
            client = await Client.connect(server.address, data_converter=pydantic_data_converter)
            started = time.monotonic()

            def progress(done: int, total: int) -> None:
                if done % 250 == 0 or done == total:
                    print(f"  {done}/{total} scenarios, {time.monotonic() - started:.0f} s", flush=True)

            async with fuzz_hub(client, restart_every_s=args.restart_every or None) as hub:
                results = await run_many(hub, scenarios, concurrency=args.concurrency, progress=progress)
                failed = [result for result in results if result.failed]
                by_family = Counter(v.family.value for result in failed for v in result.violations)
                for n, result in enumerate(failed):
                    shrunk = await shrink(hub, result) if n < args.shrink else None
                    kinds = f" KINDS={kinds_flag}" if kinds_flag != "all" else ""
                    rerun = f"make fuzz SEED={result.scenario.seed}{kinds}"
                    print(report(result, shrunk, rerun=rerun), flush=True)
        finally:
            server.stop()
    elapsed = time.monotonic() - started
    print(f"\n{len(results)} scenarios in {elapsed:.0f} s ({kinds_flag} kinds): {len(failed)} with violations")
    for family, n in sorted(by_family.items()):
        scenarios_hit = sum(any(v.family.value == family for v in result.violations) for result in failed)
        print(f"  {family}: {n} violations in {scenarios_hit} scenarios")
    # Which kinds of event the broken scenarios had, against how often each was drawn: where to look first.
    drawn = Counter(kind for result in results for kind in {event.kind for event in result.scenario.events})
    broke = Counter(kind for result in failed for kind in {event.kind for event in result.scenario.events})
    worst = sorted(broke, key=lambda kind: broke[kind] / drawn[kind], reverse=True)[:15]
    if worst:
        print("  kinds in broken scenarios (broken/drawn): " + ", ".join(f"{k} {broke[k]}/{drawn[k]}" for k in worst))
    if failed:
        print(f"  seeds: {' '.join(str(result.scenario.seed) for result in failed[:50])}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(_main(_arguments())))
