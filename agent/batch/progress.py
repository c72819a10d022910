"""The live view of a batch: a rich table of done / running / failed, success so far, steps/s, tokens, ETA."""

from __future__ import annotations

import time
from collections import deque

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from guiagent.agent.batch.results import COUNTED, ResultRow
from guiagent.agent.outcome import Outcome

SHOWN_FAILURES = 5  # the last failed (or errored) episodes the live view lists, with their reasons


class Progress:
    """Counts episodes as they start, step and end; renders them live, with the last failures and their
    reasons (or one line per episode when the output is not a terminal)."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True, highlight=False)
        self.total = self.skipped = 0
        self.outcomes: dict[Outcome, int] = dict.fromkeys(COUNTED, 0)
        self.running: dict[str, int] = {}
        self.steps = self.tokens = 0
        self.t0 = time.time()
        self._live: Live | None = None
        self.failures: deque[ResultRow] = deque(maxlen=SHOWN_FAILURES)

    def start(self, total: int, skipped: int) -> None:
        self.total, self.skipped, self.t0 = total, skipped, time.time()
        if self.console.is_terminal:
            self._live = Live(self.render(), console=self.console, refresh_per_second=4, transient=False)
            self._live.start()
        elif skipped:
            self.console.print(f"{skipped} of {total} episodes already finished: skipped")

    def started(self, key: str) -> None:
        self.running[key] = 0

    def step(self, key: str, step: int) -> None:
        if key in self.running:
            self.steps += max(0, step - self.running[key])
            self.running[key] = step

    def finished(self, row: ResultRow) -> None:
        done_steps = self.running.pop(row.key, 0)
        self.steps += max(0, row.steps - done_steps)
        self.tokens += row.tokens
        self.outcomes[row.outcome] = self.outcomes.get(row.outcome, 0) + 1
        if row.outcome in (Outcome.FAILURE, Outcome.ERROR):
            self.failures.append(row)
        if self._live is None:
            reward = f" reward {row.reward:g}" if row.reward is not None else ""
            reason = f": {row.reason}" if row.reason and row.outcome is not Outcome.SUCCESS else ""
            self.console.print(f"{row.outcome.value:<10} {row.key}  {row.steps} steps {row.wall_s:.1f}s{reward}{reason}",
                               markup=False)

    def render(self) -> Group:
        """The counts, then the last failures with their reasons."""
        parts: list[Table | Text] = [self.counts()]
        if self.failures:
            parts.append(Text(f"last {len(self.failures)} failed:", style="bold"))
            for row in self.failures:
                line = Text(f"  {row.outcome.value:<8} {row.key}: ", style="red" if row.outcome is Outcome.FAILURE else "yellow")
                line.append(row.reason or "no reason recorded", style="")
                parts.append(line)
        return Group(*parts)

    def counts(self) -> Table:
        elapsed = max(time.time() - self.t0, 1e-6)
        done = sum(self.outcomes.values())
        ran = sum(n for o, n in self.outcomes.items() if o.finished)
        left = self.total - self.skipped - done
        eta = f"{left * elapsed / done:.0f}s" if done else "-"
        table = Table(title="guiagent batch", show_header=True)
        for name in ("done", "running", "left", "success", "failed", "unverified", "errors", "success rate", "steps/s",
                     "tokens", "ETA"):
            table.add_column(name, justify="right")
        table.add_row(
            f"{done + self.skipped}/{self.total}", str(len(self.running)), str(max(left, 0)),
            *(str(self.outcomes[o]) for o in (Outcome.SUCCESS, Outcome.FAILURE, Outcome.UNVERIFIED, Outcome.ERROR)),
            f"{self.outcomes[Outcome.SUCCESS] / ran:.0%}" if ran else "-", f"{self.steps / elapsed:.2f}",
            str(self.tokens), eta,
        )
        return table

    def refresh(self) -> None:
        if self._live is not None:
            self._live.update(self.render())

    def stop(self) -> None:
        if self._live is not None:
            self._live.update(self.render())
            self._live.stop()
            self._live = None
