"""``hub bench`` without matplotlib (production installs no ``bench`` extra): the figures and the page are written,
the charts are not, and one line says why, instead of a crash at the very end of a run."""

import json
import sys
from pathlib import Path

import pytest

from hub.verify.bench.config import BenchConfig
from hub.verify.bench.run import NO_CHART, write_results
from tests.bench.test_report import _figures


def test_without_matplotlib_the_figures_and_the_page_are_written_and_the_missing_chart_is_said(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # what `import matplotlib` meets where it is not installed
    config = BenchConfig(out_dir=tmp_path / "bench", docs=tmp_path / "docs" / "benchmarks.md")
    write_results(config, _figures())
    assert json.loads((tmp_path / "bench" / "bench.json").read_text()) == _figures()
    assert "| hub, orders completed per second | 10.0 |" in (tmp_path / "docs" / "benchmarks.md").read_text()
    assert not list(tmp_path.rglob("*.png"))
    said = capsys.readouterr()
    assert said.out == "" and said.err.splitlines() == [NO_CHART]


def test_with_matplotlib_both_charts_are_drawn(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_results(BenchConfig(out_dir=tmp_path / "bench", docs=tmp_path / "docs" / "benchmarks.md"), _figures())
    assert sorted(path.name for path in tmp_path.rglob("*.png")) == ["bench.png", "benchmarks.png"]
    assert capsys.readouterr().err == ""
