"""What an episode is asked to do."""

from __future__ import annotations

from pydantic import BaseModel, Field

from guiagent.tools import Check


class Task(BaseModel):
    instruction: str = Field(min_length=1)
    start_url: str | None = None
    success: Check | None = Field(default=None, description="Checked when the policy terminates with success.")
