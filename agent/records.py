"""Step records from the loop's state: the record of a step in progress, the summary the policy sees,
and a step read back from the checkpoints (to complete a steps.jsonl line cut short on disk)."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from langgraph.checkpoint.sqlite import SqliteSaver

from guiagent.agent.episode_state import StepInProgress, ending_of
from guiagent.agent.outcome import FaultKind
from guiagent.agent.trajectory import StepRecord
from guiagent.policies import Decision, StepSummary
from guiagent.tools import dump_action

CHECKPOINT_FILE = "checkpoints.sqlite"
THREAD_ID = "episode"


def open_checkpoints(root: Path) -> sqlite3.Connection:
    """The checkpoint database of the episode in ``root``, for the loop's checkpointer."""
    conn = sqlite3.connect(root / CHECKPOINT_FILE, check_same_thread=False)
    # WAL without an fsync per commit: a checkpoint survives the process being killed (the case
    # resume is for), not the machine losing power; it makes a checkpoint ~10x cheaper.
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    return conn


def record_from_state(state: Mapping[str, Any], pending: StepInProgress | None = None) -> StepRecord:
    """The step record of the step in progress (``pending``, else the state's own), from the state alone (the same
    bytes every time)."""
    pending = pending or StepInProgress.of(state)
    ending = ending_of(state)
    decision = pending.decision or Decision()
    obs = pending.obs
    if obs is None or pending.t_end is None:
        raise CheckpointError(f"step {state['step'] + 1} has not been observed and ended")
    record = StepRecord(
        index=state["step"],
        label=decision.label,
        t=obs.t,
        t_start=pending.t_start,
        t_end=pending.t_end,
        frame=state["frame_id"],
        geometry=obs.geometry,
        mapping=decision.mapping,
        url=obs.url,
        title=obs.title,
        window=obs.window,
        a11y=obs.a11y,
        thought=decision.thought,
        raw=decision.raw,
        format_error=decision.format_error,
        model_actions=[dump_action(a) for a in decision.model_actions],
        actions=[dump_action(a) for a in decision.actions],
        results=pending.results,
        checks=pending.checks,
        url_after=next((r.data["url"] for r in reversed(pending.results) if "url" in r.data), None),
        timings_ms=dict(pending.timings_ms),
        usage=decision.usage,
        policy_info=decision.info,
        targets=pending.targets,
        context_frames=pending.context_frames,
        approval=pending.approval,
        error=ending.error if ending is not None else None,
        fault=ending.fault if ending is not None else None,
        source=decision.recorded_source,
        frame_after=pending.frame_after,
        t_after=pending.t_after,
    )
    if pending.record_ms is not None:
        record.timings_ms["record"] = pending.record_ms
    return record


def summary_of(record: StepRecord) -> StepSummary:
    """What the policy sees of a recorded step: the same whether it was just recorded or read back."""
    return StepSummary(
        index=record.index, t=record.t, thought=record.thought, raw=record.raw,
        model_actions=record.model_actions, actions=record.actions,
        results=[r.message or ("ok" if r.ok else "failed") for r in record.results],
        error=record.format_error, env_fault=record.fault is not None and record.fault.kind in (FaultKind.ENV, FaultKind.MODEL_SERVER),
        source=record.source,
    )


class CheckpointError(RuntimeError):
    """checkpoints.sqlite cannot be read; the message says why."""


def checkpointed_record(root: Path, index: int) -> StepRecord | None:
    """Step ``index`` as the checkpoints in ``root`` recorded it (rebuilt byte for byte from the state
    right after its record node), read without writing anything; None if none holds it. Raises
    CheckpointError for a file that is not a readable checkpoint database."""
    path = root / CHECKPOINT_FILE
    if not path.exists():
        return None
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise CheckpointError(str(exc)) from None
    try:
        for found in SqliteSaver(conn).list({"configurable": {"thread_id": THREAD_ID}}):  # newest first
            values = found.checkpoint["channel_values"]
            step = values.get("step")
            if isinstance(step, int) and step <= index:
                return None
            if step == index + 1 and StepInProgress.of(values).t_end is not None and values.get("frame_id"):
                return record_from_state({**values, "step": index})
        return None
    except Exception as exc:  # sqlite3.DatabaseError for garbage; anything for a mangled blob
        raise CheckpointError(f"{type(exc).__name__}: {exc}") from None
    finally:
        conn.close()
