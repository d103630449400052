"""`make demo` end to end: the embedded stack on free ports, every demo order reaching its expected ending."""

import os
import subprocess
import sys
from pathlib import Path

from sandbox.process import free_port

ROOT = Path(__file__).resolve().parents[2]


def test_demo_exits_zero_when_every_demo_order_ends_as_expected(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "HUB_STACK_TEMPORAL_PORT": str(free_port()),
        "HUB_STACK_UI_PORT": str(free_port()),
        "HUB_STACK_SANDBOX_PORT": str(free_port()),
        "HUB_STACK_SMTP_PORT": str(free_port()),
        "HUB_STACK_API_PORT": str(free_port()),
        "HUB_STACK_DATA_DIR": str(tmp_path),
    }
    done = subprocess.run(
        [sys.executable, "-m", "hub.dev.stack", "demo"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "7/7 demo orders ended as expected" in done.stdout
    assert (tmp_path / "temporal.db").exists()  # the dev server persisted to the data directory
    # The stack runs encrypted (issue 6): its key outlives the run, and the database holds no customer data.
    assert [key.name for key in (tmp_path / "keys").iterdir()] == ["demo-1"]
    stored = b"".join(path.read_bytes() for path in tmp_path.glob("temporal.db*"))
    assert b"binary/encrypted" in stored
    for pii in (b"ana@example.com", b"Ana Martin", b"rue des Lilas"):
        assert pii not in stored
    for name in ("happy", "declined", "backorder-drop-missing", "label-rejected", "capture-failed", "customer-cancels"):
        assert f"-{name}" in done.stdout
