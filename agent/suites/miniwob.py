"""The MiniWoB++ suite, from the ``miniwob`` package's own HTML tasks (``pip install 'guiagent[suites]'``).

Each task page is served on 127.0.0.1 from the package's files (nothing else: no Selenium, no gym).
An episode loads the page, seeds its generator (``Math.seedrandom(seed)``, as MiniWoB's own env does),
starts it (``core.startEpisodeReal()``), and reads the instruction from the page's utterance. The page
itself decides the outcome: when it ends the episode (``WOB_DONE_GLOBAL``) its raw reward
(``WOB_RAW_REWARD_GLOBAL``, in [-1, 1]; the time-scaled ``WOB_REWARD_GLOBAL`` is recorded too) is the
episode's reward, and a reward above 0 is a success. MiniWoB's page ends an episode itself after
``core.EPISODE_MAX_TIME``; ours is 60 s by default (MiniWoB's 10 s was set for RL agents acting in
milliseconds, not for a model that takes seconds per step).
"""

from __future__ import annotations

import importlib.util
import threading
from functools import lru_cache
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from guiagent.agent.suites.model import PageReward, Suite, SuiteError, build_suite

PAGE_TIME_LIMIT_MS = 60_000
# The page's episode-ending state, recorded with the reward.
INFO_JS = "({env_reward: WOB_REWARD_GLOBAL, raw_reward: WOB_RAW_REWARD_GLOBAL, reason: WOB_REWARD_REASON})"

# A DOM oracle for a handful of tasks: JavaScript that reads the page and returns the actions (CSS
# pixels of the viewport) that solve it. For testing the suite's mechanics and for benchmarks.
_CENTRE = "const c = e => { const r = e.getBoundingClientRect(); return [r.left + r.width / 2, r.top + r.height / 2]; };"
_QUOTED = "const q = core.getUtterance().match(/\"(.*)\"/)[1];"
ORACLES: dict[str, str] = {
    "click-test": "[{action: 'left_click', coordinate: c(document.querySelector('#subbtn'))}]",
    "click-button": "[{action: 'left_click', coordinate: c([...document.querySelectorAll('#area button')].find(b => b.textContent === q))}]",
    "click-link": "[{action: 'left_click', coordinate: c([...document.querySelectorAll('#area .alink')].find(a => a.textContent === q))}]",
    "click-dialog": "[{action: 'left_click', coordinate: c(document.querySelector('.ui-dialog button.ui-button'))}]",
    "focus-text": "[{action: 'left_click', coordinate: c(document.querySelector('#tt'))}]",
    "enter-text": ("[{action: 'left_click', coordinate: c(document.querySelector('#tt'))}, {action: 'type', text: q},"
                   " {action: 'left_click', coordinate: c(document.querySelector('#subbtn'))}]"),
}


def miniwob_html() -> Path:
    """The ``html`` folder of the installed ``miniwob`` package (found without importing it)."""
    spec = importlib.util.find_spec("miniwob")
    if spec is None or spec.origin is None:
        raise SuiteError("the miniwob suite needs the miniwob package: pip install 'guiagent[suites]'")
    root = Path(spec.origin).parent / "html"
    if not (root / "miniwob").is_dir() or not (root / "core" / "core.js").is_file():
        raise SuiteError(f"the miniwob package at {root.parent} has no html/miniwob task pages")
    return root


@lru_cache(maxsize=1)
def miniwob_task_names() -> tuple[str, ...]:
    return tuple(sorted(p.stem for p in (miniwob_html() / "miniwob").glob("*.html")))


def page_reward(time_limit_ms: int = PAGE_TIME_LIMIT_MS) -> PageReward:
    return PageReward(
        setup=f"Math.seedrandom({{seed}}); core.EPISODE_MAX_TIME = {int(time_limit_ms)}; core.startEpisodeReal();",
        ready="WOB_TASK_READY", instruction="core.getUtterance()", done="WOB_DONE_GLOBAL",
        reward="WOB_RAW_REWARD_GLOBAL", info=INFO_JS, success_above=0.0,
    )


def oracle_js(name: str) -> str | None:
    body = ORACLES.get(name)
    return None if body is None else f"(() => {{ {_CENTRE} {_QUOTED if 'q)' in body or 'text: q' in body else ''} return {body}; }})()"


def miniwob_suite(seeds: list[int] | None = None, max_steps: int = 10) -> Suite:
    """Every MiniWoB++ task of the package, seeds 0 (or ``seeds``) each."""
    reward = page_reward().model_dump()
    tasks: list[dict[str, Any]] = []
    for name in miniwob_task_names():
        tasks.append({
            "id": name, "start": {"url": f"/miniwob/{name}.html"}, "site": "miniwob", "reward": reward,
            "max_steps": max_steps, "seeds": seeds or [0], "tags": ["miniwob"], "oracle": oracle_js(name),
        })
    return build_suite("miniwob", "miniwob (package)", tasks, {})


class _QuietFiles(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass

    def end_headers(self) -> None:
        self.send_header("Cache-Control", "no-store")
        super().end_headers()


class StaticSite(ThreadingHTTPServer):
    """A folder served read-only on 127.0.0.1 (the MiniWoB pages), in a daemon thread."""

    daemon_threads = True

    def __init__(self, root: Path, port: int = 0) -> None:
        handler = lambda *a, **kw: _QuietFiles(*a, directory=str(root), **kw)  # noqa: E731
        super().__init__(("127.0.0.1", port), handler)
        self._thread = threading.Thread(target=self.serve_forever, name="static-site", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
