"""What happened when: the timeline every order and RMA keeps, shown to whoever serves the customer."""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

Outcome = Literal["succeeded", "failed", "compensated", "skipped", "info"]


class TimelineEntry(BaseModel):
    model_config = ConfigDict(frozen=True)

    at: datetime
    step: str
    outcome: Outcome
    detail: str | None = None
