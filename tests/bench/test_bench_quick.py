"""A tiny ``hub bench`` through the real entry point, on free ports in a directory of its own: the JSON line
has every key with sane values. No figure is compared to a target here (timings belong to ``make bench``),
except the happy path's action count, which is a cost, not a timing."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HAPPY_PATH_ACTION_BUDGET = 15


def test_a_tiny_bench_prints_every_figure_as_its_last_line(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "hub.verify.bench", "--orders", "20", "--concurrency", "10", "--workers", "1"]
    command += ["--warmup", "2", "--path-samples", "1", "--no-progress", "--out", str(tmp_path)]
    finished = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=170, check=False)
    assert finished.returncode == 0, finished.stderr[-3000:]
    figures = json.loads(finished.stdout.strip().splitlines()[-1])

    assert figures["orders_per_s"] > 0 and figures["reference_per_s"] > 0 and figures["reference_local_per_s"] > 0
    assert figures["ratio_to_local"] == round(figures["orders_per_s"] / figures["reference_local_per_s"], 3)
    assert figures["ratio"] == round(figures["orders_per_s"] / figures["reference_per_s"], 3)
    latency = figures["latency_ms"]
    assert 0 < latency["p50"] <= latency["p95"] <= latency["p99"]
    actions = figures["actions_per_order"]
    assert set(actions) == {"happy", "declined", "compensated", "return"}
    assert all(count > 0 for count in actions.values())
    assert actions["declined"] < actions["happy"] < actions["return"]
    assert set(figures["history_events_per_order"]) == set(actions)
    assert all(size > 0 for size in figures["history_bytes_per_order"].values())
    assert figures["reference_activities"] > 0
    per_workflow = figures["cpu_ms_per_workflow"]
    assert all(per_workflow[side][role] > 0 for side in ("hub", "reference") for role in ("worker_ms", "server_ms"))
    core = per_workflow["hub"]["worker_ms"] + per_workflow["hub"]["server_ms"]
    reference = per_workflow["reference"]["worker_ms"] + per_workflow["reference"]["server_ms"]
    assert figures["core_ratio"] == round(reference / core, 3)
    assert [mb > 0 for mb in figures["worker_memory_mb"]] == [True]
    assert (figures["orders"], figures["concurrency"], figures["workers"], figures["failed_orders"]) == (20, 10, 1, 0)
    assert figures["machine"]["cpus"] >= 1
    assert json.loads((tmp_path / "bench.json").read_text()) == figures
    assert (tmp_path / "bench.png").read_bytes().startswith(b"\x89PNG")
    assert actions["happy"] <= HAPPY_PATH_ACTION_BUDGET
