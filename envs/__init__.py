"""Computers to act on. Backends import their heavy dependencies only when used."""

from guiagent.envs.base import Env, EnvError, EnvWrapper, FrameSource, FrameTap, FrameTapping

__all__ = ["Env", "EnvError", "EnvWrapper", "FrameSource", "FrameTap", "FrameTapping"]
