"""Deciders of the next action: scripted, replayed, or a vision-language model."""

from guiagent.policies.base import (
    Decision,
    DecisionContext,
    DecisionSource,
    PlannedPolicy,
    Policy,
    PolicyError,
    PolicyUnavailable,
    StepSummary,
    TargetResolver,
)

__all__ = ["Decision", "DecisionContext", "DecisionSource", "PlannedPolicy", "Policy", "PolicyError", "PolicyUnavailable", "StepSummary", "TargetResolver"]
