"""Imported once by the local pool's fork server, before it forks any worker.

Each worker would otherwise import the runtime (LangGraph, Playwright, pydantic models: about 1 s of
CPU and 100 MB) itself; forked from a server that already holds them, a worker starts at once and
shares those pages with its siblings. Nothing here may start a thread or open a connection.
"""

from __future__ import annotations

import gc
import signal

import guiagent.agent.batch.episode  # noqa: F401  (the whole episode stack: loop, envs, policies)
import guiagent.agent.batch.local  # noqa: F401
from guiagent.envs.lifetime import die_with_parent

# The fork server dies with the batch process, and each worker with the fork server (worker_main asks
# for the same): a killed batch leaves nothing running. Without this the server would outlive a killed
# batch, since every worker holds the pipe whose end tells it that the batch is gone.
die_with_parent(signal.SIGKILL)

# Move what the imports made out of the collector's reach: a collection in a worker would otherwise
# touch (and so copy) every shared page that holds an object.
gc.freeze()
