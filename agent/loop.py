"""The episode loop: a LangGraph StateGraph observe -> decide -> act -> record, checkpointed in SQLite.

The checkpointed state holds small things only (step index, frame ids, status, the step in progress),
so a checkpoint costs the same at step 5 and at step 5,000. The recorded steps are the truth: the policy's
history is kept beside them in memory and rebuilt from steps.jsonl on resume; frames live in the frame
buffer and on disk. The loop knows the Env and Policy protocols, nothing more.
"""

from __future__ import annotations

import time
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.graph import END, StateGraph
from langgraph.types import Command, interrupt

from guiagent.agent.acting import Actor, StepFault
from guiagent.agent.concluding import Concluder, terminate_ending
from guiagent.agent.deciding import TimedDecider, shown_limit
from guiagent.agent.episode_state import (
    EpisodeResult,
    EpisodeState,
    LoopConfig,
    Seen,
    StepCallback,
    StepInProgress,
    elapsed_ms,
    ending_of,
    fault_ending,
    recordable,
    state_after,
)
from guiagent.agent.frames import FrameBuffer
from guiagent.agent.outcome import EndedBy, Ending, FaultKind, Outcome
from guiagent.agent.records import CHECKPOINT_FILE, THREAD_ID, open_checkpoints, record_from_state, summary_of
from guiagent.agent.safeguards import ApprovalTimeout, Safeguards, describe_request
from guiagent.agent.task import Task
from guiagent.agent.trajectory import StepRecord, TrajectoryWriter, load_trajectory
from guiagent.envs import Env, EnvError, FrameSource
from guiagent.policies import Decision, DecisionContext, Policy, PolicyError, PolicyUnavailable, StepSummary
from guiagent.tools import CallUser, Terminate

__all__ = ["CHECKPOINT_FILE", "Episode", "EpisodeResult", "EpisodeState", "LoopConfig", "StepCallback", "summary_of"]


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
        self.decider = TimedDecider(policy, self.config.decide_timeout_s)
        self.concluder = Concluder(env, task, writer, self.config.max_steps)
        writer.redact_with(self.guards.secrets)  # every record it writes; the nodes' updates: recordable below
        self._conn = open_checkpoints(writer.root)
        self.graph = self._build().compile(checkpointer=SqliteSaver(self._conn))
        self._thread: RunnableConfig = {"configurable": {"thread_id": THREAD_ID}}

    # -- graph -----------------------------------------------------------------------------

    def _build(self) -> StateGraph:
        g = StateGraph(EpisodeState)
        g.add_node("observe", recordable(self._observe, self.guards.redact))
        g.add_node("decide", recordable(self._decide, self.guards.redact))
        g.add_node("act", recordable(self._act, self.guards.redact))
        g.add_node("record", recordable(self._record, self.guards.redact))
        g.set_entry_point("observe")
        g.add_conditional_edges("observe", lambda s: "decide" if s.get("ending") is None else "record")
        after_decide = "approve" if self.guards.rules else "act"
        g.add_conditional_edges("decide", lambda s: after_decide if s.get("ending") is None else "record")
        if self.guards.rules:
            g.add_node("approve", recordable(self._approve, self.guards.redact))
            g.add_edge("approve", "act")
        g.add_edge("act", "record")
        g.add_conditional_edges("record", lambda s: "observe" if s.get("ending") is None else END)
        return g

    def _observe(self, state: EpisodeState) -> dict[str, Any]:
        step = state["step"]
        t0 = time.perf_counter()
        pending = StepInProgress(t_start=time.time())
        try:
            obs = self.env.observe()
        except EnvError as exc:  # the computer died: not the task failing (resumable)
            pending.timings_ms["observe"] = elapsed_ms(t0)
            return {"ending": fault_ending(FaultKind.ENV, exc), "frame_id": None, "pending": pending.state()}
        pending.timings_ms["capture"] = elapsed_ms(t0)
        t1 = time.perf_counter()
        frame_id = self.writer.write_frame(step, obs.image, obs.image_format)
        pending.timings_ms["encode"] = elapsed_ms(t1)  # frames arrive encoded; this is the write to disk
        self.frames.add(frame_id, obs)
        pending.obs = Seen.of(obs)  # what record needs, no pixels
        return {"frame_id": frame_id, "pending": pending.state()}

    def _decide(self, state: EpisodeState) -> dict[str, Any]:
        pending = StepInProgress.of(state)
        obs = self.frames.get(state["frame_id"] or "")
        if obs is None:  # only if resumed mid-step, which resume() avoids
            return {"ending": fault_ending(FaultKind.POLICY, "internal: the observed frame is not in the buffer")}
        context = DecisionContext(task=self.task.instruction, step=state["step"], max_steps=self.config.max_steps,
                                  observation=obs, history=self.history[: state["step"]], recent_frames=self.frames.recent())
        t0 = time.perf_counter()
        update: dict[str, Any] = {}
        try:
            decision = self.decider.decide(context)
        except PolicyError as exc:  # a server that is down is not the task failing: error, resumable
            pending.timings_ms["decide"] = elapsed_ms(t0)
            kind = FaultKind.MODEL_SERVER if isinstance(exc, PolicyUnavailable) else FaultKind.POLICY
            return {"ending": fault_ending(kind, exc), "pending": pending.state()}
        pending.timings_ms["decide"] = elapsed_ms(t0)
        pending.decision = decision
        if decision.format_error:
            errors = state["format_errors"] + 1
            update["format_errors"] = errors
            if errors > self.config.max_format_errors:
                why = f"the model's answer could not be parsed {errors} times in a row: {decision.format_error}"
                update["ending"] = Ending(by=EndedBy.FORMAT_ERRORS, why=why).model_dump(mode="json")
        else:
            update["format_errors"] = 0
        return {**update, "pending": pending.state()}

    def _approve(self, state: EpisodeState) -> dict[str, Any]:
        """Before a guarded action: ask a person (LangGraph ``interrupt``; resumed with their answer)."""
        pending = StepInProgress.of(state)
        decision = pending.decision or Decision()
        request = self.guards.request(decision.actions, pending.obs.url if pending.obs else None)
        if request is None:
            return {}
        request.update(step=state["step"], frame=str(self.writer.root / (state["frame_id"] or "")))
        answer = interrupt(request)
        pending.approval = {**request, "approved": bool(answer.get("approved")), "note": answer.get("note")}
        return {"pending": pending.state()}

    def _act(self, state: EpisodeState) -> dict[str, Any]:
        pending = StepInProgress.of(state)
        decision = pending.decision or Decision()
        update: dict[str, Any] = {}
        t0 = time.perf_counter()
        where = f"step {state['step'] + 1}" + (f" ({decision.label})" if decision.label else "")
        try:
            acted = self.actor.act(decision, where, self.frames.get(state["frame_id"] or ""), pending.approval)
            pending.results, pending.checks = acted.results, acted.checks
            ran = [a for a, r in zip(acted.actions, acted.results, strict=False) if r.ok]
            if acted.failure:
                update["ending"] = Ending(by=EndedBy.STEP_FAILED, why=acted.failure).model_dump(mode="json")
            elif any(isinstance(a, CallUser) for a in ran):  # no person is attached to this loop to answer it
                why = "the model asked for help (call_user), and no person is attached"
                update["ending"] = Ending(by=EndedBy.ASKED_FOR_HELP, why=why).model_dump(mode="json")
            elif (done := next((a for a in ran if isinstance(a, Terminate)), None)) is not None:
                update.update(ending=terminate_ending(decision, done), answer=done.answer)  # checks run at record
            if decision.targets:  # the record keeps the pixel actions that ran, and the targets as written
                pending.decision = decision.model_copy(update={"actions": acted.actions})
                pending.targets = acted.resolved
        except StepFault as fault:  # the computer died under the step: an infrastructure fault, resumable
            pending.results, pending.checks = fault.results, fault.checks
            update["ending"] = fault_ending(fault.kind, fault.error)
        except EnvError as exc:
            update["ending"] = fault_ending(FaultKind.ENV, exc)
        pending.timings_ms["execute"] = elapsed_ms(t0)
        if isinstance(self.env, FrameSource) and "ending" not in update:
            t1 = time.perf_counter()
            pending.context_frames = self.frames.keep(self.writer, state["step"], self.env.drain_frames())
            pending.timings_ms["context"] = elapsed_ms(t1)
        return {**update, "pending": pending.state()}

    def _record(self, state: EpisodeState) -> dict[str, Any]:
        t0 = time.perf_counter()
        step, ending = state["step"], ending_of(state)
        if state["frame_id"] is None:  # observe failed: nothing to record for this step
            return self.concluder.conclude(state, ending or Ending.model_validate(fault_ending(FaultKind.ENV, "no frame")), None)
        ends = ending is not None or step + 1 >= self.config.max_steps
        # t_end, the closing frame and the record's own time go into the checkpoint, so that the line can be
        # rebuilt byte for byte from it (a line cut short on disk is then completed: TrajectoryWriter.open)
        pending = StepInProgress.of(state).model_copy(update={"t_end": time.time()})
        if ends:
            pending.frame_after, pending.t_after = self.concluder.observe_after(step)
        record = record_from_state(state, pending)
        record.timings_ms["record"] = pending.record_ms = elapsed_ms(t0)
        self.writer.append(record)
        self.history[step:] = [summary_of(record)]
        update: dict[str, Any] = {"step": step + 1, "pending": pending.state()}
        if self.on_step is not None:
            self.on_step(record, shown_limit(self.policy, self.config.max_steps, step))
        if ending is None and step + 1 >= self.config.max_steps:
            ending = self.concluder.step_limit()
        if ending is not None:
            update.update(self.concluder.conclude(state, ending, pending.frame_after or record.frame))
        return update

    # -- running ---------------------------------------------------------------------------

    def run(self) -> EpisodeResult:
        """Run a new episode to its end."""
        return self._invoke(state_after([]), self._thread)

    def load_history(self, steps: list[StepRecord]) -> None:
        """Give a resumed episode the policy's view of its recorded steps (from steps.jsonl)."""
        self.history = [summary_of(s) for s in steps]

    def resume(self, recorded: list[StepRecord] | None = None, approval: dict[str, Any] | None = None) -> EpisodeResult:
        """Continue after the recorded steps, from the last checkpoint that agrees with them: recorded steps are
        never redone; an interrupted one is redone from its observation (its frame and decision died with the
        process, what it did with the world the rebuild replaced); after an env fault, the next step. Where the
        checkpoint is empty or disagrees (the records are the truth), from the records alone. An episode awaiting
        approval goes on with ``approval`` ({"approved", "note"}) as the person's answer, or asks again."""
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
            ended = ending_of(values)
            if ended is not None and ended.by is not EndedBy.FAULT:  # it had ended; only its final checks faulted
                frame = StepInProgress.of(values).frame_after or (recorded[-1].frame if recorded else None)
                self.concluder.conclude(values, ended, frame)
                return self._result()
            if count >= self.config.max_steps:
                self.concluder.conclude(values, self.concluder.step_limit(), None)
                return self._result()
            # running (stopped between two nodes' writes) or an error (the env died: the runner has built a fresh
            # one): go on with the next step
            config = self.graph.update_state(
                snapshot.config, {"status": Outcome.RUNNING.value, "reason": None, "ending": None}, as_node="record")
            return self._invoke(None, config)
        config = snapshot.config
        # A step that acted but was not recorded acted on the world the rebuild replaced: redo it from its
        # observation. Only a recorded step (replayed by the rebuild) goes on at its record node.
        recorded_already = snapshot.next == ("record",) and checkpointed == count - 1
        if snapshot.next[0] != "observe" and not recorded_already:
            for earlier in self.graph.get_state_history(self._thread):
                if earlier.next and earlier.next[0] == "observe":
                    config = earlier.config
                    break
        return self._invoke(None, config)

    def resume_from_steps(self, recorded: list[StepRecord]) -> EpisodeResult:
        """Continue with the step after ``recorded``, whatever the checkpoint holds."""
        if len(recorded) >= self.config.max_steps:
            self.concluder.conclude({}, self.concluder.step_limit(), None)
            return self._result()
        self.load_history(recorded)
        return self._invoke(state_after(recorded), self._thread)

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
            try:
                answer = self.guards.approver(request) if self.guards.approver is not None else None
            except ApprovalTimeout:  # a waiting approver's time ran out
                answer = None
            if answer is None:  # unattended: stop here, checkpointed; `guiagent approve` goes on
                reason = f"awaiting approval of {describe_request(request)}: guiagent approve {self.writer.root} [--deny]"
                self.writer.update_meta(outcome=Outcome.AWAITING_APPROVAL, reason=reason, steps=self.writer.count,
                                        ended_by=EndedBy.APPROVAL)
                return self._result()
            state, config = Command(resume=answer), self._thread
        return self._result()

    def close(self) -> None:
        self.decider.close()
        self._conn.close()
        self.writer.close()
