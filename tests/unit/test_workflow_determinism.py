"""Workflow code is replayed: it must read no clock, no randomness, no environment and do no I/O of its own. The
worker passes the deterministic ``workflows`` package through Temporal's sandbox (it is imported once, not for every
run), so the sandbox's runtime checks do not watch it: this static check does, over every module of the package."""

import ast
from pathlib import Path

import pytest

import workflows

FORBIDDEN_CALLS = {
    ("datetime", "now"): "workflow.now()",
    ("datetime", "utcnow"): "workflow.now()",
    ("datetime", "today"): "workflow.now()",
    ("date", "today"): "workflow.now().date()",
    ("time", "time"): "workflow.now()",
    ("time", "monotonic"): "workflow.now()",
    ("time", "sleep"): "workflow.sleep()",
    ("asyncio", "sleep"): "workflow.sleep()",
    ("uuid", "uuid4"): "workflow.uuid4()",
    ("os", "getenv"): "a setting carried in the workflow's input",
    ("environ", "get"): "a setting carried in the workflow's input",
}
FORBIDDEN_NAMES = {"open": "an activity", "print": "workflow.logger", "input": "an Update"}
FORBIDDEN_MODULES = {"random", "time", "uuid", "os", "socket", "subprocess", "threading", "secrets", "httpx"}


def violations(source: str, filename: str = "<source>") -> list[str]:
    """What in ``source`` a replay could see differently from the first run, with what to use instead."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source, filename)):
        where = f"{filename}:{getattr(node, 'lineno', '?')}"
        if isinstance(node, ast.Import | ast.ImportFrom):
            names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            found += [f"{where}: imports {name}" for name in names if name.split(".")[0] in FORBIDDEN_MODULES]
        elif isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Attribute):
                owner = func.value
                owner_name = owner.id if isinstance(owner, ast.Name) else getattr(owner, "attr", None)
                instead = FORBIDDEN_CALLS.get((str(owner_name), func.attr))
                if instead:
                    found.append(f"{where}: {owner_name}.{func.attr}() (use {instead})")
            elif isinstance(func, ast.Name) and func.id in FORBIDDEN_NAMES:
                found.append(f"{where}: {func.id}() (use {FORBIDDEN_NAMES[func.id]})")
        elif isinstance(node, ast.Attribute) and node.attr == "environ":
            found.append(f"{where}: reads the environment")
    return found


PACKAGE = Path(workflows.__file__).parent
MODULES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda path: str(path.relative_to(PACKAGE)))
def test_workflow_code_reads_no_clock_randomness_or_environment(path: Path) -> None:
    assert violations(path.read_text(), str(path)) == []


def test_the_check_sees_what_would_break_a_replay() -> None:
    planted = """
import random
from datetime import datetime
import uuid as ids

async def step():
    at = datetime.now()
    key = ids.uuid4()
    secret = os.environ["KEY"]
    with open("f") as f:
        print(f.read())
    ok = workflow.now()
"""
    found = violations(planted)
    flagged = {int(line.split(":")[1]) for line in found}
    assert flagged == {2, 4, 7, 9, 10, 11}, (
        found
    )  # the imports, the clock, the environment, the I/O; not workflow.now()
    assert any("datetime.now() (use workflow.now())" in line for line in found)


def test_the_package_is_all_there() -> None:
    names = {str(path.relative_to(PACKAGE)) for path in MODULES}
    assert {"order/workflow.py", "returns/workflow.py", "kit/steps.py"} <= names
