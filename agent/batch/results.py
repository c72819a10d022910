"""A batch's results on disk: results.jsonl (one line per episode), summary.json, index.html.

results.jsonl is appended and flushed as each episode ends, so a killed batch keeps every line it
wrote; a later line for the same episode (a retry, a re-run) supersedes an earlier one, and the file is
rewritten compact (one line per episode, in plan order) when a batch ends.
"""

from __future__ import annotations

import html
import json
import logging
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from guiagent.agent.outcome import (
    Agreement,
    Declared,
    DeclaredVsVerified,
    EndedBy,
    Fault,
    Outcome,
    Verdict,
    judge_agreement,
)
from guiagent.tools.files import write_atomic

RESULTS = "results.jsonl"
SUMMARY = "summary.json"
INDEX = "index.html"
log = logging.getLogger(__name__)



class ResultRow(BaseModel):
    """One episode's line in results.jsonl."""

    key: str = Field(description="task/seed: the episode's identity in the batch.")
    task: str
    seed: int
    outcome: Outcome
    ended_by: EndedBy | None = None
    declared: Declared | None = None
    verified: list[Verdict] = Field(default_factory=list, description="The checks run on the final world.")
    fault: Fault | None = None
    reward: float | None = None
    steps: int = 0
    tokens: int = 0
    wall_s: float = 0.0
    trajectory: str = Field(description="The episode's folder, relative to the batch folder.")
    reason: str | None = None
    attempt: int = 0
    tags: list[str] = Field(default_factory=list)
    finished_at: float = Field(default_factory=time.time)


def episode_key(task: str, seed: int) -> str:
    return f"{task}/seed-{seed}"


def read_results(root: Path) -> dict[str, ResultRow]:
    """The last row per episode; a torn or foreign line is skipped (a killed batch may leave one)."""
    rows: dict[str, ResultRow] = {}
    path = root / RESULTS
    if not path.exists():
        return rows
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            row = ResultRow.model_validate_json(line)
        except ValidationError:
            continue
        rows[row.key] = row
    return rows


class ResultLog:
    """Appends rows to results.jsonl, each flushed to the OS at once (a SIGKILL keeps it)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._file = open(root / RESULTS, "a", encoding="utf-8")

    def append(self, row: ResultRow) -> None:
        self._file.write(row.model_dump_json() + "\n")
        self._file.flush()

    def close(self) -> None:
        self._file.close()


def write_final(root: Path, rows: list[ResultRow], planned: int, wall_s: float,
                skipped: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Rewrite results.jsonl compact and write summary.json and index.html; returns the summary. ``skipped``: the
    suites' tasks that cannot run here ({id, reason, source}), listed in the summary and the index."""
    write_atomic(root / RESULTS, "".join(r.model_dump_json() + "\n" for r in rows))
    summary = {**summarize(rows, planned, wall_s), "skipped": skipped or []}
    write_atomic(root / SUMMARY, json.dumps(summary, indent=2))
    write_atomic(root / INDEX, render_index(rows, summary, root))
    return summary


COUNTED = (Outcome.SUCCESS, Outcome.FAILURE, Outcome.UNVERIFIED, Outcome.ERROR)


def _table(rows: list[ResultRow]) -> dict[str, Any]:
    table = DeclaredVsVerified()
    for r in rows:
        if r.outcome.finished:
            table.add(r.declared, r.verified)
    return table.summary()


def _agreement(rows: list[ResultRow]) -> dict[str, Any] | None:
    """How the judge's "success" agrees with the rules' and rewards' over the finished episodes that had both
    (precision and recall of the judge's success); None where no episode had both."""
    agreement = Agreement()
    for r in rows:
        if r.outcome.finished and (pair := judge_agreement(r.verified)) is not None:
            agreement.add(*pair)
    return agreement.summary() if agreement.episodes else None


def summarize(rows: list[ResultRow], planned: int, wall_s: float) -> dict[str, Any]:
    """summary.json: counts by outcome, the success rate among the episodes that ran, the declared x verified table
    (overall and per task), the judge's agreement with the rewards and rules (where a judge ran beside them),
    rewards, throughput."""
    by_outcome = {k.value: sum(r.outcome is k for r in rows) for k in COUNTED}
    ran = sum(by_outcome[k.value] for k in COUNTED if k.finished)
    rewards = [r.reward for r in rows if r.reward is not None]
    per_task: dict[str, dict[str, Any]] = {}
    grouped: dict[str, list[ResultRow]] = defaultdict(list)
    for r in rows:
        grouped[r.task].append(r)
    for task, task_rows in grouped.items():
        task_rewards = [r.reward for r in task_rows if r.reward is not None]
        per_task[task] = {
            "episodes": len(task_rows), "success": sum(r.outcome is Outcome.SUCCESS for r in task_rows),
            "unverified": sum(r.outcome is Outcome.UNVERIFIED for r in task_rows),
            "errors": sum(r.outcome is Outcome.ERROR for r in task_rows),
            "mean_reward": sum(task_rewards) / len(task_rewards) if task_rewards else None,
            "declared_vs_verified": _table(task_rows), "judge_agreement": _agreement(task_rows),
        }
    steps = sum(r.steps for r in rows)
    return {
        "episodes": planned, "recorded": len(rows), **by_outcome,
        "not_run": planned - ran,
        "success_rate": by_outcome["success"] / ran if ran else None,
        "declared_vs_verified": _table(rows),
        "judge_agreement": _agreement(rows),
        "mean_reward": sum(rewards) / len(rewards) if rewards else None,
        "steps": steps, "tokens": sum(r.tokens for r in rows), "wall_s": round(wall_s, 3),
        "episodes_per_s": round(len(rows) / wall_s, 4) if wall_s > 0 else None,
        "tasks": per_task,
    }


def render_index(rows: list[ResultRow], summary: dict[str, Any], root: Path) -> str:
    """The batch's HTML index: success per task, then every episode linked to its folder and, where it was
    written, its report."""
    e = html.escape

    def links(r: ResultRow) -> str:
        report = (f"<a href='{e(r.trajectory)}/report.html'>report</a> "
                  if (root / r.trajectory / "report.html").exists() else "no report ")
        return report + f"<a href='{e(r.trajectory)}/'>folder</a>"

    rate = summary["success_rate"]
    head = (f"{summary['success']} of {summary['episodes']} episodes succeeded (verified)"
            + (f" ({rate:.0%} of those that ran)" if rate is not None else "")
            + f"; {summary['failure']} failed, {summary['unverified']} unverified, {summary['error']} could not run.")
    dvv = summary["declared_vs_verified"]
    table = "".join(
        f"<tr><th>declared {e(d)}</th>" + "".join(f"<td>{dvv['table'][d][v]}</td>" for v in ("passed", "refused", "unchecked"))
        + "</tr>" for d in ("success", "failure", "none")
    )
    task_rows = "".join(
        f"<tr><td>{e(t)}</td><td>{s['success']}/{s['episodes']}</td><td>{s['declared_vs_verified']['false_success']}</td>"
        f"<td>{s['declared_vs_verified']['false_failure']}</td><td>{s['unverified']}</td><td>{s['errors']}</td>"
        f"<td>{_num(s['mean_reward'], '.3f')}</td></tr>"
        for t, s in summary["tasks"].items()
    )
    skipped = "".join(f"<tr><td>{e(t['id'])}</td><td>{e(t['reason'])}</td></tr>" for t in summary.get("skipped", []))
    if skipped:
        skipped = f"<h2>Skipped</h2><p>Tasks that cannot run here.</p><table><tr><th>task</th><th>reason</th></tr>{skipped}</table>"
    episode_rows = "".join(
        f"<tr class='{r.outcome.value}'><td>{e(r.task)}</td><td>{r.seed}</td><td>{r.outcome.value}</td>"
        f"<td>{e(_declared(r))}</td><td>{e(_verified(r))}</td>"
        f"<td>{_num(r.reward, 'g')}</td><td>{r.steps}</td><td>{r.tokens}</td>"
        f"<td>{r.wall_s:.1f}</td><td>{links(r)}</td><td>{e(r.reason or '')}</td></tr>"
        for r in rows
    )
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>Batch results</title><style>
body {{ font: 14px system-ui, sans-serif; margin: 2em; }} table {{ border-collapse: collapse; margin-bottom: 2em; }}
td, th {{ border: 1px solid #ccc; padding: 3px 8px; text-align: left; }} .success td:nth-child(3) {{ color: #080; }}
.failure td:nth-child(3) {{ color: #b00; }} .error td:nth-child(3) {{ color: #a60; }}
</style></head><body><h1>Batch results</h1><p>{e(head)}</p>
<h2>Declared x verified</h2><p>What the policy declared at the end against what the checks found on the final
world: {dvv['true_success']} true successes, {dvv['false_success']} false successes (declared, refused by a check),
{dvv['false_failure']} false failures, {dvv['unverified']} unverified (declared, nothing checked).</p>
<table class="dvv"><tr><th></th><th>checks passed</th><th>a check refused</th><th>no check</th></tr>{table}</table>
{_agreement_html(summary)}<h2>Per task</h2><table><tr><th>task</th><th>success</th><th>false success</th><th>false failure</th><th>unverified</th>
<th>errors</th><th>mean reward</th></tr>{task_rows}</table>
<h2>Episodes</h2><p>Each episode's report.html is written as it ends; <code>guiagent view DIR</code> writes any
that are missing (an episode recorded before this version, or one whose report could not be written).</p>
<table><tr><th>task</th><th>seed</th><th>outcome</th><th>declared</th><th>verified</th><th>reward</th><th>steps</th><th>tokens</th><th>wall s</th>
<th>links</th><th>reason</th></tr>{episode_rows}</table>{skipped}</body></html>"""


def _agreement_html(summary: dict[str, Any]) -> str:
    """The judge's agreement with the rewards and rules, overall and per task (nothing where no judge ran beside them)."""
    overall = summary.get("judge_agreement")
    if overall is None:
        return ""
    e = html.escape
    rows = "".join(
        f"<tr><td>{e(name)}</td><td>{a['episodes']}</td><td>{a['true_positive']}</td><td>{a['false_positive']}</td>"
        f"<td>{a['false_negative']}</td><td>{a['true_negative']}</td><td>{_num(a['precision'], '.3f')}</td>"
        f"<td>{_num(a['recall'], '.3f')}</td></tr>"
        for name, a in [("all tasks", overall), *((t, s["judge_agreement"]) for t, s in summary["tasks"].items()
                                                 if s.get("judge_agreement"))]
    )
    return (f"""<h2>Judge agreement</h2><p>The judge's verdict against the rewards and rules, on the {overall['episodes']}
episodes where both ran: precision {_num(overall['precision'], '.3f') or '-'} (of the episodes the judge called a success,
the share that were), recall {_num(overall['recall'], '.3f') or '-'} (of the real successes, the share the judge called so).
Trust the judge where no reward exists only as far as these figures go.</p>
<table class="agreement"><tr><th></th><th>episodes</th><th>judge success, reward success</th><th>judge success, reward failure</th>
<th>judge failure, reward success</th><th>judge failure, reward failure</th><th>precision</th><th>recall</th></tr>{rows}</table>
""")


def is_batch(path: Path) -> bool:
    return (path / RESULTS).is_file()


def batch_trajectories(path: Path, only_success: bool = False, include_unverified: bool = False) -> list[Path]:
    """The episode folders a batch folder's results.jsonl lists (the verified successes only, if asked; with
    ``include_unverified``, those only their policy called done too)."""
    wanted = {Outcome.SUCCESS, Outcome.UNVERIFIED} if include_unverified else {Outcome.SUCCESS}
    return [path / r.trajectory for r in read_results(path).values() if not only_success or r.outcome in wanted]


def expand_batches(paths: list[Path], only_success: bool = False, include_unverified: bool = False) -> list[Path]:
    """Trajectory folders, a batch folder standing for the episodes its results.jsonl lists."""
    return [t for p in paths
            for t in (batch_trajectories(p, only_success, include_unverified) if is_batch(p) else [p])]


def write_report(root: Path, row: ResultRow) -> None:
    """The episode's report.html, written as its row comes in (an episode that left no trajectory gets none)."""
    from guiagent.agent.report import render_html
    from guiagent.agent.trajectory import META_FILE, TrajectoryError, load_trajectory

    folder = root / row.trajectory
    if not (folder / META_FILE).exists():
        return
    try:
        write_atomic(folder / "report.html", render_html(load_trajectory(folder)))
    except (TrajectoryError, ValueError, OSError) as exc:  # the index says there is none; view says why
        log.warning("no report for %s: %s", folder, exc)


def write_reports(root: Path) -> list[str]:
    """Each episode's report.html (the index links to them); what was written or skipped, in lines."""
    from guiagent.agent.report import render_html
    from guiagent.agent.trajectory import TrajectoryError, load_trajectory

    lines, written = [], 0
    for folder in batch_trajectories(root):
        try:
            (folder / "report.html").write_text(render_html(load_trajectory(folder)), encoding="utf-8")
            written += 1
        except (TrajectoryError, ValueError, OSError) as exc:
            lines.append(f"skipped {folder}: {exc}")
    return [*lines, f"{written} episode reports; index: {root / INDEX}"]


def _declared(row: ResultRow) -> str:
    return row.declared.status if row.declared is not None else ""


def _verified(row: ResultRow) -> str:
    return "; ".join(f"{v.kind.value} {'passed' if v.passed else 'refused'}" for v in row.verified)


def _num(value: float | None, spec: str) -> str:
    return "" if value is None else format(value, spec)
