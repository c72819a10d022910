"""Several model servers for one batch: each request goes to the server with the fewest requests in
flight (across all the batch's workers), and a server that stops answering is taken out for a while,
its episodes going on with the others.

The shared state is one small JSON file in the batch folder, read and written under an exclusive
``flock``: every worker process on this machine (local pool or Ray) sees the same counts. On several
Ray nodes each node's workers share counts through the batch folder where its filesystem supports
flock (NFSv4 does); where it does not, each node still balances its own requests. A server is taken out
on any ``PolicyUnavailable`` (policies/chat_client.py: down, hung, failing, busy, garbled), never by the
words of the error.
"""

from __future__ import annotations

import fcntl
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from guiagent.agent.runner import RunSpec, episode_vlm_config
from guiagent.policies import Decision, DecisionContext, PolicyError, PolicyUnavailable
from guiagent.policies.vlm import VLMConfig, VLMPolicy

TABLE = ".model-servers.json"
DOWN_FOR_S = 60.0


class ServerTable:
    """In-flight counts and down marks per server URL, in a file shared by the batch's workers."""

    def __init__(self, path: Path, urls: list[str]) -> None:
        self.path, self.urls = path, list(urls)
        path.touch(exist_ok=True)

    @contextmanager
    def _locked(self) -> Iterator[dict[str, Any]]:
        with open(self.path, "r+", encoding="utf-8") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                text = f.read()
                table = json.loads(text) if text.strip() else {}
            except ValueError:
                table = {}
            for url in self.urls:
                table.setdefault(url, {"inflight": 0, "down_until": 0.0})
            yield table
            f.seek(0)
            f.truncate()
            f.write(json.dumps(table))
            f.flush()

    def acquire(self, exclude: set[str]) -> str | None:
        """The live server with the fewest requests in flight (counted as one more), or None."""
        now = time.time()
        with self._locked() as table:
            live = [u for u in self.urls if u not in exclude and table[u]["down_until"] <= now]
            if not live:
                return None
            url = min(live, key=lambda u: table[u]["inflight"])
            table[url]["inflight"] += 1
            return url

    def release(self, url: str, down: bool = False) -> None:
        with self._locked() as table:
            table[url]["inflight"] = max(0, table[url]["inflight"] - 1)
            if down:
                table[url]["down_until"] = time.time() + DOWN_FOR_S

    def snapshot(self) -> dict[str, Any]:
        with self._locked() as table:
            return json.loads(json.dumps(table))


class RoutedPolicy:
    """A VLM policy over several servers: same model and prompt, the least busy server per request."""

    kind = "vlm"

    def __init__(self, config: VLMConfig, urls: list[str], table: ServerTable) -> None:
        self.config, self.table = config, table
        self.policies = {u: VLMPolicy(config.model_copy(update={"base_url": u})) for u in urls}

    def decide(self, context: DecisionContext) -> Decision:
        tried: set[str] = set()
        last: PolicyUnavailable | None = None
        while True:
            url = self.table.acquire(tried)
            if url is None:
                raise last or PolicyUnavailable(f"cannot reach the model server: all {len(self.policies)} servers are down")
            tried.add(url)
            try:
                decision = self.policies[url].decide(context)
            except PolicyUnavailable as exc:  # down, silent, failing, busy: out for a while, the next server
                self.table.release(url, down=True)
                last = exc
                continue
            except PolicyError:  # the request's own problem: another server would refuse it too
                self.table.release(url)
                raise
            self.table.release(url)
            return decision.model_copy(update={"info": {**decision.info, "server": url}})

    def settings(self) -> dict[str, Any]:
        return {"kind": self.kind, **self.config.model_dump(), "servers": list(self.policies)}


def routed_policy(spec: RunSpec, urls: list[str], root: Path) -> RoutedPolicy:
    return RoutedPolicy(episode_vlm_config(spec), urls, ServerTable(root / TABLE, urls))
