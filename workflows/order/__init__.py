"""The order's workflow, in parts around its state (``workflow.py`` is the public surface)."""

from workflows.order.workflow import OrderWorkflow

__all__ = ["OrderWorkflow"]
