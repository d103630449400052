"""`make demo` and `make run` end to end: the embedded stack on free ports, every demo order reaching its expected
ending; and what `make run` prints to get in (the API key, the webhook secrets, a webhook to try, also in the access
file) is what the running stack accepts."""

import asyncio
import json
import os
import re
import shlex
import signal
import stat
import subprocess
import sys
from pathlib import Path

from hub.dev.access import read_access_file, secret_variable
from sandbox.process import free_port
from tests.eventually import eventually

ROOT = Path(__file__).resolve().parents[2]


def _stack_env(data_dir: Path) -> dict[str, str]:
    return {
        **os.environ,
        "HUB_STACK_TEMPORAL_PORT": str(free_port()),
        "HUB_STACK_UI_PORT": str(free_port()),
        "HUB_STACK_SANDBOX_PORT": str(free_port()),
        "HUB_STACK_SMTP_PORT": str(free_port()),
        "HUB_STACK_API_PORT": str(free_port()),
        "HUB_STACK_DATA_DIR": str(data_dir),
    }


def test_demo_exits_zero_when_every_demo_order_ends_as_expected(tmp_path: Path) -> None:
    env = _stack_env(tmp_path)
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


class Output:
    """A child's output, collected line by line as it comes."""

    def __init__(self, stream: asyncio.StreamReader) -> None:
        self._lines: list[str] = []
        self._collecting = asyncio.create_task(self._collect(stream))

    async def _collect(self, stream: asyncio.StreamReader) -> None:
        async for line in stream:
            self._lines.append(line.decode(errors="replace"))

    async def read(self) -> str:
        return "".join(self._lines)


def _printed(label: str, text: str) -> str:
    found = re.search(rf"^{label} +(\S+)", text, flags=re.MULTILINE)
    assert found is not None, f"no {label!r} line in:\n{text}"
    return found[1]


def _hub(*argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


async def test_run_prints_how_to_get_in_writes_it_for_its_owner_and_a_webhook_signed_as_printed_is_accepted(
    tmp_path: Path,
) -> None:
    access_file = tmp_path / "access.env"
    running = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "hub.dev.stack",
        "run",
        cwd=ROOT,
        env=_stack_env(tmp_path),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    assert running.stdout is not None
    output = Output(running.stdout)
    try:
        printed = await eventually(
            output.read,
            lambda text: "Everything keeps running" in text or running.returncode is not None,
            what="make run to start, place the demo orders and wait for Ctrl-C",
            timeout_s=240,
            show=lambda text: text[-2000:],
        )
        assert "Everything keeps running" in printed, printed
        for step in ("starting the Temporal dev server on", "waiting for the API to be ready (Temporal + worker)"):
            assert step in printed
        assert "7/7 demo orders ended as expected" in printed

        # The access file: this run's key and secrets, as printed, readable by its owner only.
        assert stat.S_IMODE(access_file.stat().st_mode) == 0o600
        access = read_access_file(access_file)
        assert access["HUB_API_URL"] == _printed("API", printed)
        assert access["HUB_API_KEY"] == _printed("API key", printed)
        for source in ("erp", "carrier", "payment"):
            assert access[secret_variable(source)] == _printed(f"{source} secret", printed)

        # The printed webhook line, run as printed, is accepted by the running API…
        line = next(line.strip() for line in printed.splitlines() if " webhook send erp " in line)
        argv = shlex.split(line)
        assert argv[argv.index("--secret") + 1] == access[secret_variable("erp")]
        sent = _hub(*argv)
        assert sent.returncode == 0, sent.stdout + sent.stderr
        status, _, body = sent.stdout.partition("\n")
        assert status == "202 Accepted" and json.loads(body)["event_id"].startswith("erp:msg_")
        # … and the same webhook signed with another secret is not.
        forged = [*argv[: argv.index("--secret") + 1], "whsec_" + "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB"]
        refused = _hub(*forged)
        assert refused.returncode == 4 and "401" in refused.stdout + refused.stderr

        # The access file makes the CLI talk to this stack with this run's key.
        happy = re.search(r"^(D\d+-happy) ", printed, flags=re.MULTILINE)
        assert happy is not None
        shown = _hub(
            "sh",
            "-c",
            'set -a; . "$1"; set +a; exec "$2" order show "$3" --json',
            "sh",
            str(access_file),
            argv[0],
            happy[1],
            env={"PATH": os.environ["PATH"]},
        )
        assert shown.returncode == 0, shown.stdout + shown.stderr
        assert json.loads(shown.stdout)["status"] == "completed"
    finally:
        if running.returncode is None:
            running.send_signal(signal.SIGINT)
        await asyncio.wait_for(running.wait(), timeout=60)
    assert running.returncode == 0, await output.read()
    assert not access_file.exists()  # the key and the secrets die with the run
