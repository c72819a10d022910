"""The frame buffer: recent observations with their absolute times, bounded in memory."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from typing import Any

from guiagent.agent.trajectory import TrajectoryWriter
from guiagent.tools import Observation


class FrameBuffer:
    """Keeps the last ``capacity`` observations by id, oldest evicted first."""

    def __init__(self, capacity: int = 64) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self._frames: OrderedDict[str, Observation] = OrderedDict()

    def add(self, frame_id: str, obs: Observation) -> None:
        self._frames[frame_id] = obs
        self._frames.move_to_end(frame_id)
        while len(self._frames) > self.capacity:
            self._frames.popitem(last=False)

    def get(self, frame_id: str) -> Observation | None:
        return self._frames.get(frame_id)

    def keep(self, writer: TrajectoryWriter, step: int, frames: Iterable[Observation]) -> list[dict[str, Any]]:
        """Write the frames seen while step ``step`` acted (a screencast's) and keep them: their record entries."""
        kept = []
        for k, obs in enumerate(frames):
            name = writer.write_context_frame(step, k, obs.image, obs.image_format)
            self.add(name, obs)
            kept.append({"frame": name, "t": obs.t})
        return kept

    def recent(self, since: float | None = None) -> list[Observation]:
        """Frames in time order, those at or after ``since`` if given."""
        frames = sorted(self._frames.values(), key=lambda o: o.t)
        return frames if since is None else [o for o in frames if o.t >= since]

    def __len__(self) -> int:
        return len(self._frames)
