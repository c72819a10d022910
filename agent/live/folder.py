"""What the live view shows, read from a trajectory or batch folder on disk (written by whichever process runs it).

An episode: its task, outcome so far, steps (thought, actions in screen pixels, results, source) and the current
screen: the live frame its process writes while a view watches (agent/watch_mark.py), else the frame of the step
under way (written when the step observes, before it decides), else the last one.
A batch: each episode folder with its outcome, reason and current screen.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

from guiagent.agent.batch.plan import EPISODES
from guiagent.agent.batch.results import is_batch
from guiagent.agent.trajectory import FRAMES_DIR, META_FILE, STEPS_FILE
from guiagent.agent.watch_mark import LIVE_FRAME
from guiagent.tools import FrameGeometry

FRAME_SUFFIXES = ("png", "jpeg", "jpg", "webp")


def _captured_points(action: dict[str, Any], geometry: FrameGeometry) -> dict[str, Any]:
    """An action with its points in the frame's pixels (what the page draws on the screen it shows)."""
    out = dict(action)
    for key in ("coordinate", "start_coordinate"):
        if isinstance(action.get(key), list):
            x, y = geometry.input_to_captured((action[key][0], action[key][1]))
            out[key] = [round(x), round(y)]
    return out


class EpisodeFolder:
    """An episode folder read incrementally: new lines of steps.jsonl only, meta.json when it changed."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._offset = 0
        self._steps: list[dict[str, Any]] = []
        self._meta: dict[str, Any] = {}
        self._meta_stamp: tuple[int, int] | None = None
        self._frame: str | None = None
        self.version = 0
        """Grows whenever what the snapshot shows changed (the live view sends only then)."""

    def _read_meta(self) -> None:
        path = self.root / META_FILE
        try:
            st = path.stat()
            if (st.st_mtime_ns, st.st_size) != self._meta_stamp:
                self._meta = json.loads(path.read_text(encoding="utf-8"))
                self._meta_stamp = (st.st_mtime_ns, st.st_size)
                self.version += 1
        except (OSError, ValueError):  # not there yet, or caught mid-write: the last good copy stays
            pass

    def _read_steps(self) -> None:
        try:
            with open(self.root / STEPS_FILE, "rb") as f:
                f.seek(self._offset)
                data = f.read()
        except OSError:
            return
        whole = data[: data.rfind(b"\n") + 1]  # a line still being written waits for its end
        self._offset += len(whole)
        self.version += bool(whole)
        for line in whole.splitlines():
            try:
                self._steps.append(self._step(json.loads(line)))
            except (ValueError, KeyError):
                continue

    @staticmethod
    def _step(raw: dict[str, Any]) -> dict[str, Any]:
        geometry = FrameGeometry.model_validate(raw["geometry"])
        return {
            "index": raw["index"], "frame": raw.get("frame"), "frame_after": raw.get("frame_after"),
            "thought": raw.get("thought") or "", "source": raw.get("source", "model"), "label": raw.get("label"),
            "actions": [_captured_points(a, geometry) for a in raw.get("actions", [])],
            "results": [r.get("message") or ("ok" if r.get("ok") else "failed") for r in raw.get("results", [])],
            "ok": all(r.get("ok") for r in raw.get("results", [])), "url": raw.get("url"),
            "width": geometry.width, "height": geometry.height,
        }

    def current_frame(self) -> str | None:
        """The screen as it is now: the live frame its process writes while watched (its name with its version),
        else the frame of the step under way, else the last step's closing or own frame."""
        if self._meta.get("outcome", "running") == "running":  # a killed process's leftover is not the screen now
            with contextlib.suppress(OSError):
                return f"{LIVE_FRAME}?v={(self.root / LIVE_FRAME).stat().st_mtime_ns}"
        for suffix in FRAME_SUFFIXES:
            name = f"{FRAMES_DIR}/{len(self._steps):06d}.{suffix}"
            if (self.root / name).exists():
                return name
        if self._steps:
            last = self._steps[-1]
            return last["frame_after"] or last["frame"]
        return None

    def snapshot(self) -> dict[str, Any]:
        self._read_meta()
        self._read_steps()
        frame = self.current_frame()
        if frame != self._frame:
            self._frame, self.version = frame, self.version + 1
        m = self._meta
        return {
            "kind": "episode", "name": self.root.name, "task": m.get("task"), "outcome": m.get("outcome", "running"),
            "reason": m.get("reason"), "declared": m.get("declared"), "verified": m.get("verified", []),
            "steps": self._steps, "frame": frame,
        }


class BatchFolder:
    """A batch folder: every episode folder under episodes/ (a task's, or a task's seed's), as it is now."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._episodes: dict[str, EpisodeFolder] = {}
        self.version = 0

    def snapshot(self) -> dict[str, Any]:
        episodes = []
        top = self.root / EPISODES
        metas = [*top.glob(f"*/{META_FILE}"), *top.glob(f"*/*/{META_FILE}")]  # TASK/ or TASK/seed-N/
        for meta in sorted(metas):
            name = meta.parent.relative_to(top).as_posix()
            snap = self._episodes.setdefault(name, EpisodeFolder(meta.parent)).snapshot()
            episodes.append({k: snap[k] for k in ("task", "outcome", "reason")}
                            | {"name": name, "steps": len(snap["steps"]),
                               "frame": f"{EPISODES}/{name}/{snap['frame']}" if snap["frame"] else None})
        self.version = len(self._episodes) + sum(e.version for e in self._episodes.values())
        return {"kind": "batch", "name": self.root.name, "episodes": episodes}


def open_folder(root: Path) -> EpisodeFolder | BatchFolder:
    """The live view of ``root``: a batch folder (results.jsonl) or an episode folder. Raises ValueError for neither."""
    if is_batch(root) or (root / EPISODES).is_dir():
        return BatchFolder(root)
    if (root / META_FILE).exists() or (root / STEPS_FILE).exists():
        return EpisodeFolder(root)
    raise ValueError(f"{root} is neither a trajectory folder (meta.json) nor a batch folder (results.jsonl)")
