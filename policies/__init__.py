"""Deciders of the next action: scripted, replayed, or a vision-language model."""

from guiagent.policies.base import (
    Decision,
    DecisionContext,
    Policy,
    PolicyError,
    PolicyUnavailable,
    StepSummary,
    TargetResolver,
)

__all__ = ["Decision", "DecisionContext", "Policy", "PolicyError", "PolicyUnavailable", "StepSummary", "TargetResolver"]
