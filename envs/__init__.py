"""Computers to act on. Backends import their heavy dependencies only when used."""

from guiagent.envs.base import Env, EnvError, FrameSource

__all__ = ["Env", "EnvError", "FrameSource"]
