"""The episode loop: a LangGraph StateGraph observe -> decide -> act -> record, checkpointed in SQLite.

The checkpointed state holds small things only (step index, frame ids, status, the step in progress),
so a checkpoint costs the same at step 5 and at step 5,000. The recorded steps are the truth: the policy's
history is kept beside them in memory and rebuilt from steps.jsonl on resume; frames live in the frame
buffer and on disk. The loop knows the Env and Policy protocols, nothing more.
"""

from __future__ import annotations

import concurrent.futures
import sqlite3
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol, TypedDict

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.graph import END, StateGraph
from langgraph.types import Command, interrupt
from pydantic import BaseModel, Field

from guiagent.agent.acting import Actor, StepFault
from guiagent.agent.frames import FrameBuffer
from guiagent.agent.outcome import Declared, EndedBy, Ending, Fault, FaultKind, Outcome, Verdict, settle
from guiagent.agent.records import CHECKPOINT_FILE, THREAD_ID, record_from_state, summary_of
from guiagent.agent.safeguards import Safeguards, describe_request
from guiagent.agent.task import Task
from guiagent.agent.trajectory import StepRecord, TrajectoryWriter, load_trajectory
from guiagent.agent.verify import CheckFault, verify_world
from guiagent.envs import Env, EnvError, FrameSource
from guiagent.policies import (
    Decision,
    DecisionContext,
    DecisionSource,
    Policy,
    PolicyError,
    PolicyUnavailable,
    StepSummary,
)
from guiagent.tools import CallUser, Terminate, dump_action
from guiagent.tools.text import recordable_tree


class LoopConfig(BaseModel):
    """Limits of one episode."""

    max_steps: int = Field(default=50, ge=1)
    max_format_errors: int = Field(default=3, ge=0, description="Consecutive unparseable answers before failing.")
    decide_timeout_s: float = Field(default=300.0, gt=0)
    frame_buffer: int = Field(default=256, ge=1, description="Frames kept in memory for the policy's video.")


class EpisodeState(TypedDict):
    step: int
    status: str  # an Outcome: running until the episode ended, then the settled outcome
    reason: str | None
    answer: str | None
    format_errors: int
    frame_id: str | None
    pending: dict[str, Any]  # the step in progress: decision, results, timings (no pixels)
    ending: dict[str, Any] | None  # an Ending, once a node ended the episode (the final checks not yet run)


class EpisodeResult(BaseModel):
    status: Outcome = Field(description="The outcome (agent/outcome.py).")
    reason: str | None = None
    answer: str | None = None
    steps: int
    ended_by: EndedBy | None = None
    declared: Declared | None = None
    verified: list[Verdict] = Field(default_factory=list)


StepCallback = Callable[[StepRecord, int], None]


class _Node(Protocol):
    def __call__(self, state: EpisodeState) -> dict[str, Any]: ...


def _recordable(node: _Node) -> _Node:
    """A node whose update is made recordable (tools.text) before LangGraph checkpoints it and the
    record node writes it: the model's text, page titles, env messages."""

    def run(state: EpisodeState) -> dict[str, Any]:
        return {k: recordable_tree(v) for k, v in node(state).items()}

    return run


def _fault(kind: FaultKind, error: object) -> dict[str, Any]:
    """The ending of an episode that a fault took."""
    return Ending(by=EndedBy.FAULT, fault=Fault(kind=kind, message=str(error))).model_dump(mode="json")


def _ms(t0: float) -> float:
    return round((time.perf_counter() - t0) * 1000, 3)


class Episode:
    """Runs one episode of ``policy`` on ``env``, recording to ``writer`` and checkpointing beside it."""

    def __init__(
        self,
        env: Env,
        policy: Policy,
        task: Task,
        writer: TrajectoryWriter,
        config: LoopConfig | None = None,
        on_step: StepCallback | None = None,
        safeguards: Safeguards | None = None,
    ) -> None:
        self.env, self.policy, self.task, self.writer = env, policy, task, writer
        self.guards = safeguards or Safeguards()
        self.config = config or LoopConfig()
        self.on_step = on_step
        self.frames = FrameBuffer(self.config.frame_buffer)
        self.actor = Actor(env, policy, self.guards)
        self.history: list[StepSummary] = []  # summary k is step k's; see load_history for a resumed episode
        # One thread for the episode's decisions (a decision may block on a server; the loop keeps its timeout).
        self._decider = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="decide")
        self._conn = sqlite3.connect(writer.root / CHECKPOINT_FILE, check_same_thread=False)
        # WAL without an fsync per commit: a checkpoint survives the process being killed (the case
        # resume is for), not the machine losing power; it makes a checkpoint ~10x cheaper.
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self.graph = self._build().compile(checkpointer=SqliteSaver(self._conn))
        self._thread: RunnableConfig = {"configurable": {"thread_id": THREAD_ID}}

    # -- graph -----------------------------------------------------------------------------

    def _build(self) -> StateGraph:
        g = StateGraph(EpisodeState)
        g.add_node("observe", _recordable(self._observe))
        g.add_node("decide", _recordable(self._decide))
        g.add_node("act", _recordable(self._act))
        g.add_node("record", _recordable(self._record))
        g.set_entry_point("observe")
        g.add_conditional_edges("observe", lambda s: "decide" if s.get("ending") is None else "record")
        after_decide = "approve" if self.guards.rules else "act"
        g.add_conditional_edges("decide", lambda s: after_decide if s.get("ending") is None else "record")
        if self.guards.rules:
            g.add_node("approve", _recordable(self._approve))
            g.add_edge("approve", "act")
        g.add_edge("act", "record")
        g.add_conditional_edges("record", lambda s: "observe" if s.get("ending") is None else END)
        return g

    def _observe(self, state: EpisodeState) -> dict[str, Any]:
        step = state["step"]
        t_start = time.time()
        t0 = time.perf_counter()
        pending: dict[str, Any] = {"t_start": t_start, "timings_ms": {}}
        try:
            obs = self.env.observe()
        except EnvError as exc:  # the computer died: not the task failing (resumable)
            pending["timings_ms"]["observe"] = _ms(t0)
            return {"ending": _fault(FaultKind.ENV, exc), "frame_id": None, "pending": pending}
        pending["timings_ms"]["capture"] = _ms(t0)
        t1 = time.perf_counter()
        frame_id = self.writer.write_frame(step, obs.image, obs.image_format)
        pending["timings_ms"]["encode"] = _ms(t1)  # frames arrive encoded; this is the write to disk
        self.frames.add(frame_id, obs)
        pending["obs"] = self.guards.redact(obs.model_dump(mode="json", exclude={"image"}))  # what record needs, no pixels
        return {"frame_id": frame_id, "pending": pending}

    def _decide(self, state: EpisodeState) -> dict[str, Any]:
        pending = dict(state["pending"])
        obs = self.frames.get(state["frame_id"] or "")
        if obs is None:  # only if resumed mid-step, which resume() avoids
            return {"ending": _fault(FaultKind.POLICY, "internal: the observed frame is not in the buffer")}
        context = DecisionContext(
            task=self.task.instruction,
            step=state["step"],
            max_steps=self.config.max_steps,
            observation=obs,
            history=self.history[: state["step"]],
            recent_frames=self.frames.recent(),
        )
        t0 = time.perf_counter()
        update: dict[str, Any] = {}
        try:
            decision = self._decide_with_timeout(context)
        except PolicyError as exc:  # a server that is down is not the task failing: error, resumable
            pending["timings_ms"] = {**pending["timings_ms"], "decide": _ms(t0)}
            kind = FaultKind.MODEL_SERVER if isinstance(exc, PolicyUnavailable) else FaultKind.POLICY
            return {"ending": _fault(kind, exc), "pending": pending}
        pending["timings_ms"] = {**pending["timings_ms"], "decide": _ms(t0)}
        pending["decision"] = decision.model_dump(mode="json")
        if decision.format_error:
            errors = state["format_errors"] + 1
            update["format_errors"] = errors
            if errors > self.config.max_format_errors:
                why = f"the model's answer could not be parsed {errors} times in a row: {decision.format_error}"
                update["ending"] = Ending(by=EndedBy.FORMAT_ERRORS, why=why).model_dump(mode="json")
        else:
            update["format_errors"] = 0
        return {**update, "pending": pending}

    def _decide_with_timeout(self, context: DecisionContext) -> Decision:
        timeout = self.config.decide_timeout_s
        future = self._decider.submit(self.policy.decide, context)
        try:
            return future.result(timeout=timeout)
        except concurrent.futures.TimeoutError:
            # the late decision still holds the thread; the episode ends here, so nothing waits behind it
            raise PolicyUnavailable(f"no decision within {timeout:g}s") from None

    def _approve(self, state: EpisodeState) -> dict[str, Any]:
        """Before a guarded action: ask a person (LangGraph ``interrupt``; resumed with their answer)."""
        pending = dict(state["pending"])
        decision = Decision.model_validate(pending["decision"])
        request = self.guards.request(decision.actions, pending["obs"].get("url"))
        if request is None:
            return {}
        request.update(step=state["step"], frame=str(self.writer.root / (state["frame_id"] or "")))
        answer = interrupt(request)
        pending["approval"] = {**request, "approved": bool(answer.get("approved")), "note": answer.get("note")}
        return {"pending": pending}

    def _act(self, state: EpisodeState) -> dict[str, Any]:
        pending = dict(state["pending"])
        decision = Decision.model_validate(pending["decision"])
        update: dict[str, Any] = {}
        t0 = time.perf_counter()
        where = f"step {state['step'] + 1}" + (f" ({decision.label})" if decision.label else "")
        try:
            acted = self.actor.act(decision, where, self.frames.get(state["frame_id"] or ""), pending.get("approval"))
            results, checks = acted.results, acted.checks
            ran = [a for a, r in zip(acted.actions, results, strict=False) if r.ok]
            if acted.failure:
                update["ending"] = Ending(by=EndedBy.STEP_FAILED, why=acted.failure).model_dump(mode="json")
            elif any(isinstance(a, CallUser) for a in ran):  # no person is attached to this loop to answer it
                why = "the model asked for help (call_user), and no person is attached"
                update["ending"] = Ending(by=EndedBy.ASKED_FOR_HELP, why=why).model_dump(mode="json")
            elif (done := next((a for a in ran if isinstance(a, Terminate)), None)) is not None:
                update.update(ending=self._declared(decision, done), answer=done.answer)  # checks run at record
            if decision.targets:  # the record keeps the pixel actions that ran, and the targets as written
                pending["decision"] = {**pending["decision"], "actions": [dump_action(a) for a in acted.actions]}
                pending["targets"] = [r.model_dump(mode="json") for r in acted.resolved]
        except StepFault as fault:  # the computer died under the step: an infrastructure fault, resumable
            results, checks = fault.results, fault.checks
            update["ending"] = _fault(FaultKind.ENV, fault.error)
        except EnvError as exc:
            results, checks = [], []
            update["ending"] = _fault(FaultKind.ENV, exc)
        pending["timings_ms"] = {**pending["timings_ms"], "execute": _ms(t0)}
        if isinstance(self.env, FrameSource) and "ending" not in update:
            t1 = time.perf_counter()
            pending["context_frames"] = self._keep_context_frames(state["step"], self.env.drain_frames())
            pending["timings_ms"]["context"] = _ms(t1)
        pending["results"] = self.guards.redact([r.model_dump(mode="json") for r in results])
        pending["checks"] = self.guards.redact([c.model_dump(mode="json") for c in checks])
        if "ending" in update:
            update["ending"] = self.guards.redact(update["ending"])
        return {**update, "pending": pending}

    @staticmethod
    def _declared(decision: Decision, done: Terminate) -> dict[str, Any]:
        """How a terminate ends the episode: the policy's declaration, or the page's own end (not a declaration)."""
        if decision.source is DecisionSource.PAGE:
            return Ending(by=EndedBy.PAGE).model_dump(mode="json")
        declared = Declared(status=done.status, answer=done.answer, by=decision.recorded_source)
        return Ending(by=EndedBy.POLICY, declared=declared).model_dump(mode="json")

    def _keep_context_frames(self, step: int, frames) -> list[dict[str, Any]]:
        kept = []
        for k, obs in enumerate(frames):
            name = self.writer.write_context_frame(step, k, obs.image, obs.image_format)
            self.frames.add(name, obs)
            kept.append({"frame": name, "t": obs.t})
        return kept

    def _record(self, state: EpisodeState) -> dict[str, Any]:
        t0 = time.perf_counter()
        step, ending = state["step"], state.get("ending")
        if state["frame_id"] is None:  # observe failed: nothing to record for this step
            return self._conclude(state, Ending.model_validate(ending), None)
        ends = ending is not None or step + 1 >= self.config.max_steps
        # t_end, the closing frame and the record's own time go into the checkpoint, so that the line can be
        # rebuilt byte for byte from it (a line cut short on disk is then completed: TrajectoryWriter.open)
        pending = {**state["pending"], "t_end": time.time()}
        if ends:
            pending.update(self._observe_after(step))
        record = record_from_state({**state, "pending": pending})
        if self.guards.secrets:  # (a redacted line is then not rebuilt but redone: record_from_state knows no secrets)
            record = StepRecord.model_validate(self.guards.redact(record.model_dump(mode="json")))
        record.timings_ms["record"] = pending["record_ms"] = _ms(t0)
        self.writer.append(record)
        self.history[step:] = [summary_of(record)]
        update: dict[str, Any] = {"step": step + 1, "pending": pending}
        if self.on_step is not None:
            self.on_step(record, self.config.max_steps)
        if ending is None and step + 1 >= self.config.max_steps:
            ending = self._step_limit().model_dump(mode="json")
        if ending is not None:
            update.update(self._conclude(state, Ending.model_validate(ending), pending.get("frame_after") or record.frame))
        return update

    def _observe_after(self, step: int) -> dict[str, Any]:
        """The screen the episode ended on (what the last action or a failed check left), if it can be seen."""
        try:
            obs = self.env.observe()
        except EnvError:
            return {}  # the env is gone: the step's own frame is the last there is
        return {"frame_after": self.writer.write_after_frame(step, obs.image, obs.image_format), "t_after": obs.t}

    def _step_limit(self) -> Ending:
        return Ending(by=EndedBy.STEP_LIMIT, why=f"reached the step limit ({self.config.max_steps}) without finishing")

    def _conclude(self, state: Mapping[str, Any], ending: Ending, frame: str | None) -> dict[str, Any]:
        """End the episode: run its checks on the final world (unless a fault took it), settle the outcome, and
        write it to meta.json: nothing is written there before the verdicts that decide it."""
        verified: list[Verdict] = []
        fault = ending.fault
        if fault is None:
            try:
                verified = verify_world(self.env, self.task, frame, ending.declared, self.writer.root)
            except (EnvError, CheckFault) as exc:  # the world is gone before it could be judged
                fault = Fault(kind=FaultKind.CHECK, message=f"the final checks could not run: {exc}")
        settled = settle(ending.by, ending.declared, verified, fault, ending.why)
        reason, answer = self.guards.redact([settled.reason, state.get("answer")])
        verified = [Verdict.model_validate(v) for v in self.guards.redact([v.model_dump(mode="json") for v in verified])]
        self.writer.finish(settled.outcome, reason, answer, ended_by=ending.by, declared=ending.declared,
                           verified=verified, fault=fault)
        return {"status": settled.outcome.value, "reason": reason, "answer": answer, "ending": ending.model_dump(mode="json")}

    # -- running ---------------------------------------------------------------------------

    def run(self) -> EpisodeResult:
        """Run a new episode to its end."""
        return self._invoke(self._state_after([]), self._thread)

    def _state_after(self, recorded: list[StepRecord]) -> EpisodeState:
        """The state at the start of the step after ``recorded``, rebuilt from the records alone."""
        errors = 0
        for record in reversed(recorded):
            if record.format_error is None:
                break
            errors += 1
        return {
            "step": len(recorded), "status": Outcome.RUNNING.value, "reason": None, "answer": None,
            "format_errors": errors, "frame_id": None, "pending": {}, "ending": None,
        }

    def load_history(self, steps: list[StepRecord]) -> None:
        """Give a resumed episode the policy's view of its recorded steps (from steps.jsonl)."""
        self.history = [summary_of(s) for s in steps]

    def resume(self, recorded: list[StepRecord] | None = None, approval: dict[str, Any] | None = None) -> EpisodeResult:
        """Continue after the recorded steps. From the last checkpoint where it agrees with them:
        recorded steps are never redone, an interrupted one is redone from its observation (its frame
        and decision died with the process), an episode that ended in an env fault goes on with the
        next step. Where the checkpoint is empty or disagrees (the records are the truth, the
        checkpoint a cache), from the recorded steps alone. An episode awaiting approval goes on with
        ``approval`` ({"approved", "note"}) as the person's answer, or asks again."""
        snapshot = self.graph.get_state(self._thread)
        if snapshot.next and snapshot.next[0] == "approve":
            return self._invoke(Command(resume=approval) if approval is not None else None, snapshot.config)
        if recorded is None:
            recorded = load_trajectory(self.writer.root).steps
        self.load_history(recorded)
        values, count = snapshot.values, len(recorded)
        checkpointed = values.get("step") if values else None
        agrees = checkpointed == count or (checkpointed == count - 1 and snapshot.next == ("record",))
        if not agrees:
            return self.resume_from_steps(recorded)
        if not snapshot.next:
            if Outcome(values["status"]).finished:
                return self._result()
            ended = Ending.model_validate(values["ending"]) if values.get("ending") else None
            if ended is not None and ended.by is not EndedBy.FAULT:  # it had ended; only its final checks faulted
                self._conclude(values, ended, values["pending"].get("frame_after") or (recorded[-1].frame if recorded else None))
                return self._result()
            if count >= self.config.max_steps:
                self._conclude(values, self._step_limit(), None)
                return self._result()
            # running (stopped between two nodes' writes) or an error (the env died: the runner has built a fresh
            # one): go on with the next step
            config = self.graph.update_state(
                snapshot.config, {"status": Outcome.RUNNING.value, "reason": None, "ending": None}, as_node="record")
            return self._invoke(None, config)
        config = snapshot.config
        if snapshot.next[0] not in ("observe", "record"):
            for earlier in self.graph.get_state_history(self._thread):
                if earlier.next and earlier.next[0] == "observe":
                    config = earlier.config
                    break
        return self._invoke(None, config)

    def resume_from_steps(self, recorded: list[StepRecord]) -> EpisodeResult:
        """Continue with the step after ``recorded``, whatever the checkpoint holds."""
        if len(recorded) >= self.config.max_steps:
            self._conclude({}, self._step_limit(), None)
            return self._result()
        self.load_history(recorded)
        return self._invoke(self._state_after(recorded), self._thread)

    def _result(self) -> EpisodeResult:
        """The episode's result as meta.json records it."""
        m = self.writer.meta
        return EpisodeResult(status=m.outcome, reason=m.reason, answer=m.answer, steps=self.writer.count,
                             ended_by=m.ended_by, declared=m.declared, verified=m.verified)

    def _invoke(self, state: EpisodeState | Command | None, config: RunnableConfig) -> EpisodeResult:
        limit = self.config.max_steps * 5 + 10
        while True:
            final = self.graph.invoke(state, config, durability="sync", recursion_limit=limit)
            interrupts = final.get("__interrupt__")
            if not interrupts:
                break
            request = interrupts[0].value
            if self.guards.approver is None:  # unattended: stop here, checkpointed; `guiagent approve` goes on
                reason = f"awaiting approval of {describe_request(request)}: guiagent approve {self.writer.root} [--deny]"
                self.writer.update_meta(outcome=Outcome.AWAITING_APPROVAL, reason=reason, steps=self.writer.count,
                                        ended_by=EndedBy.APPROVAL)
                return self._result()
            state, config = Command(resume=self.guards.approver(request)), self._thread
        return self._result()

    def close(self) -> None:
        self._decider.shutdown(wait=False)
        self._conn.close()
        self.writer.close()
