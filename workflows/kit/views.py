"""A workflow's view (its ``view`` query and its result): what the starter knew before the first step, updated with
the state's fields that the view shows under the same names."""

from collections.abc import Iterable
from typing import Any, TypeVar

from pydantic import BaseModel

V = TypeVar("V", bound=BaseModel)


def view_of(initial: V, state: BaseModel, shown: Iterable[str], **derived: Any) -> V:
    """``initial`` with each field named in ``shown`` taken from ``state``, and the ``derived`` values."""
    return initial.model_copy(update={name: getattr(state, name) for name in shown} | derived)
