"""The benchmark's arithmetic and its page, without a stack."""

from pathlib import Path
from typing import Any

import pytest

from hub.verify.bench import report
from hub.verify.bench.cpu import cpu_between


def test_percentiles_interpolate_between_closest_ranks() -> None:
    values = [4.0, 1.0, 3.0, 2.0]  # unsorted on purpose
    assert report.percentile(values, 0) == 1.0
    assert report.percentile(values, 100) == 4.0
    assert report.percentile(values, 50) == 2.5
    assert report.percentile(values, 95) == pytest.approx(3.85)
    assert report.percentile([7.0], 99) == 7.0


def test_a_percentile_of_nothing_or_out_of_range_is_an_error() -> None:
    with pytest.raises(ValueError):
        report.percentile([], 50)
    with pytest.raises(ValueError):
        report.percentile([1.0], 101)


def test_latency_summary_is_in_milliseconds_and_ordered() -> None:
    summary = report.latency_summary([n / 1000 for n in range(1, 101)])  # 1 ms … 100 ms
    assert summary == {"p50": 50.5, "p95": 95.0, "p99": 99.0}


def test_rates_and_medians() -> None:
    assert report.rate(150, 10.0) == 15.0
    assert report.rate(5, 0.0) == 0.0
    assert report.median([3, 1, 2]) == 2
    assert report.median([]) == 0.0
    breakdowns = [{"activity": 8, "signal": 2}, {"activity": 10}, {"activity": 9, "signal": 1}]
    assert report.median_by_kind(breakdowns) == {"activity": 9, "signal": 1}


def test_cpu_between_counts_a_process_started_in_between_from_zero() -> None:
    assert cpu_between({"api": 1.0}, {"api": 1.5, "hub worker": 2.0}) == {"api": 0.5, "hub worker": 2.0}


def _figures() -> dict[str, Any]:
    return {
        "orders_per_s": 10.0,
        "reference_per_s": 20.0,
        "ratio": 0.5,
        "latency_ms": {"p50": 100.0, "p95": 200.0, "p99": 300.0},
        "actions_per_order": {"happy": 12, "declined": 5, "compensated": 12, "return": 30},
        "happy_actions_by_kind": {"activity": 8, "signal": 2, "workflow started": 1, "search attributes": 1},
        "history_events_per_order": {"happy": 60, "declined": 24, "compensated": 62, "return": 140},
        "history_bytes_per_order": {"happy": 16000, "declined": 9000, "compensated": 18000, "return": 40000},
        "reference_activities": 8,
        "worker_memory_mb": [120.0, None],
        "orders": 100,
        "concurrency": 10,
        "workers": 2,
        "wall_s": {"hub": 10.0, "reference": 5.0},
        "cpu_s": {"hub": {"hub worker": 6.0}, "reference": {"reference worker": 1.0}},
        "machine": {"cpus": 2, "cpu_model": "test CPU", "python": "3.11", "temporalio": "1.0", "date": "2026-01-01"},
    }


def test_the_page_keeps_hand_written_notes_when_regenerated(tmp_path: Path) -> None:
    page = tmp_path / "benchmarks.md"
    report.write_markdown(page, _figures(), "make bench")
    first = page.read_text()
    assert "make bench" in first and "| happy | 12 |" in first and report.DEFAULT_NOTES in first
    page.write_text(first.replace(report.DEFAULT_NOTES, "Signals, not timers."))
    report.write_markdown(page, {**_figures(), "orders_per_s": 11.0}, "make bench")
    second = page.read_text()
    assert "Signals, not timers." in second and report.DEFAULT_NOTES not in second
    assert "| hub, orders completed per second | 11.0 |" in second


def test_the_chart_is_a_png(tmp_path: Path) -> None:
    report.chart(tmp_path / "chart.png", _figures())
    assert (tmp_path / "chart.png").read_bytes().startswith(b"\x89PNG")


def test_the_core_ratio_weighs_worker_and_server_per_workflow_on_each_side() -> None:
    cpu_s = {
        "hub": {"hub worker": 6.0, "temporal server": 7.0, "sandbox": 3.0, "api": 1.0},
        "reference": {"reference worker": 3.5, "temporal server": 6.5},
    }
    core = report.core_cpu(cpu_s, {"hub": 100, "reference": 100})
    assert core["cpu_ms_per_workflow"] == {
        "hub": {"worker_ms": 60.0, "server_ms": 70.0},
        "reference": {"worker_ms": 35.0, "server_ms": 65.0},
    }
    assert core["core_ratio"] == round(100 / 130, 3)  # the sandbox and the API are not the core's
    assert report.core_cpu({}, {})["core_ratio"] is None


def test_the_page_states_the_core_ratio() -> None:
    figures = {**_figures(), **report.core_cpu(_figures()["cpu_s"], {"hub": 100, "reference": 100})}
    assert "| core ratio: worker+server CPU per reference workflow ÷ per hub order | 0.167 (10.0 + 0.0 ms ÷ 60.0" in (
        report.markdown(figures, "make bench")
    )
