"""What the URL policy's network guard costs: demo-site page loads with and without the proxy in the way.

    .venv/bin/python -m bench.netguard --loads 30

Prints the median and p90 of a navigation (load event) to each demo page, guarded and not, and the ratio.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

from bench.common import percentile, timed
from guiagent.agent.demo.server import DemoServer
from guiagent.envs.browser import BrowserConfig, BrowserEnv
from guiagent.tools import Navigate
from guiagent.tools.urlpolicy import UrlPolicy

PAGES = ["/login", "/terms", "/help"]


def measure(site: str, policy: UrlPolicy | None, loads: int) -> list[float]:
    env = BrowserEnv(BrowserConfig(url_policy=policy))
    env.reset(site + PAGES[0])
    i = iter(range(10**9))
    try:
        return timed(lambda: env.execute(Navigate(url=site + PAGES[next(i) % len(PAGES)])), loads)
    finally:
        env.close()


def main() -> None:
    assert __doc__ is not None
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loads", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, DemoServer(state_path=Path(tmp) / "state.json") as server:
        bare = measure(server.url, None, args.loads)
        guarded = measure(server.url, UrlPolicy(allow=["127.0.0.1"]), args.loads)
    print(f"{'navigate + settle':<20}{'median ms':>10}{'p90 ms':>10}")
    for label, values in (("no guard", bare), ("guarded", guarded)):
        print(f"{label:<20}{statistics.median(values):>10.2f}{percentile(values, 0.9):>10.2f}")
    print(f"guarded / no guard (median): {statistics.median(guarded) / statistics.median(bare):.2f}x")


if __name__ == "__main__":
    main()
