"""Groups for pytest-xdist's ``--dist loadgroup`` (``make test`` runs two workers): a module whose tests share a
module fixture stays on one worker, so the fixture is built once; the other tests go wherever a worker is free.
The vLLM server is a session fixture: each worker that meets a test needing it starts one (at most two per run),
so the model-bound tests do not queue behind a single worker.

pytest-xdist 3.8 names the group by rewriting ``item._nodeid``, which pytest 9.2 no longer reads: there every
group silently splits across workers, so constraints.txt pins pytest 9.1 (tests/test_xdist_groups.py checks it).
"""

from __future__ import annotations

import pytest


def _module(item: pytest.Item) -> str:
    return item.nodeid.split("::", 1)[0]


def _shares_module_fixtures(item: pytest.Item) -> bool:
    """Whether the test uses a fixture built once per module (or class, or package)."""
    info = getattr(item, "_fixtureinfo", None)
    defs = info.name2fixturedefs.values() if info is not None else ()
    return any(d[-1].scope in ("module", "class", "package") for d in defs if d)


@pytest.hookimpl(tryfirst=True)  # the marker must be there before xdist's own hook reads it
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    shared = {_module(item) for item in items if _shares_module_fixtures(item)}
    for item in items:
        if _module(item) in shared:
            item.add_marker(pytest.mark.xdist_group(_module(item)))
