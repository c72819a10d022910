"""What an episode is asked to do."""

from __future__ import annotations

from pydantic import BaseModel, Field

from guiagent.policies.judge import JudgeConfig
from guiagent.tools import Check


class Task(BaseModel):
    instruction: str = Field(min_length=1)
    start_url: str | None = None
    success: Check | None = Field(default=None, description="Checked on the final world, whatever ended the episode.")
    judge: JudgeConfig | None = Field(default=None, description="A second model's verdict, at the episode's end.")
