"""The after-sales workflow (returns, exchanges, claims), in parts around its state (``workflow.py`` is the public
surface)."""

from workflows.returns.workflow import ReturnWorkflow

__all__ = ["ReturnWorkflow"]
