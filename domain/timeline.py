"""What happened when: the timeline every order and RMA keeps, shown to whoever serves the customer."""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

Outcome = Literal["succeeded", "failed", "compensated", "skipped", "info"]


class MessageRecord(BaseModel):
    """A customer message as it went out: for the customer timeline (story 5) and for support."""

    model_config = ConfigDict(frozen=True)

    notification_id: str
    kind: str
    channel: str
    subject: str | None
    at: datetime


class TimelineEntry(BaseModel):
    model_config = ConfigDict(frozen=True)

    at: datetime
    step: str
    outcome: Outcome
    detail: str | None = None
