"""The workflows read as their business process: each module stays small enough to read at once, and each workflow
class is its public surface only (``run`` and the handlers, each a delegation), the work living in the parts."""

import ast
from pathlib import Path

import pytest

import workflows

PACKAGE = Path(workflows.__file__).parent
MAX_LINES = 400
WORKFLOW_MODULES = {"order/workflow.py": "OrderWorkflow", "returns/workflow.py": "ReturnWorkflow"}


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda path: str(path.relative_to(PACKAGE)))
def test_no_workflow_module_is_longer_than_a_reader_holds_at_once(path: Path) -> None:
    assert len(path.read_text().splitlines()) <= MAX_LINES


def surface_violations(source: str, class_name: str) -> list[str]:
    """Methods of ``class_name`` that are neither ``__init__``, ``run`` nor a signal, Update, query or validator."""
    tree = ast.parse(source)
    cls = next(node for node in ast.walk(tree) if isinstance(node, ast.ClassDef) and node.name == class_name)
    found: list[str] = []
    for node in cls.body:
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        decorators = [ast.unparse(d) for d in node.decorator_list]
        handler = any(d.startswith("workflow.") or d.endswith(".validator") for d in decorators)
        if node.name not in ("__init__", "run") and not handler:
            found.append(node.name)
    return found


@pytest.mark.parametrize(("module", "class_name"), sorted(WORKFLOW_MODULES.items()))
def test_a_workflow_class_is_its_run_and_its_handlers(module: str, class_name: str) -> None:
    assert surface_violations((PACKAGE / module).read_text(), class_name) == []


def test_a_helper_method_on_the_class_is_seen() -> None:
    source = """
class W:
    @workflow.run
    async def run(self): ...
    @workflow.update(name="x")
    async def x(self): ...
    @x.validator
    def _x_allowed(self): ...
    def _money(self, amount): ...
"""
    assert surface_violations(source, "W") == ["_money"]
