"""The test run's grouping holds: under ``-n 2 --dist loadgroup`` (as ``make test`` runs), a module's parametrized
module fixture is built once per parameter, on one worker. It broke silently once (pytest 9.2 with xdist 3.8 split
every group, and each worker started its own model servers); this runs a real nested pytest on a probe module."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

PROBE = '''
import os
import pytest

LOG = os.environ["PROBE_LOG"]


@pytest.fixture(scope="module", params=["x", "y"])
def server(request):
    with open(LOG, "a") as f:
        f.write(f"{request.param} {os.environ.get('PYTEST_XDIST_WORKER')}\\n")
    return request.param


@pytest.mark.parametrize("size", range(6))
def test_uses_the_server(server, size):
    assert server in "xy"


@pytest.mark.parametrize("i", range(12))
def test_free(i):
    assert i >= 0
'''


def test_a_module_fixture_is_built_once_per_parameter_on_one_worker(tmp_path: Path) -> None:
    (tmp_path / "conftest.py").write_text("from tests.xdist_groups import pytest_collection_modifyitems  # noqa: F401\n")
    (tmp_path / "test_probe.py").write_text(PROBE)
    log = tmp_path / "setups.log"
    env = {**os.environ, "PROBE_LOG": str(log), "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-n", "2", "--dist", "loadgroup", "-p", "no:cacheprovider",
                           "--rootdir", str(tmp_path), str(tmp_path)], env=env, capture_output=True, text=True,
                          timeout=600, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    setups = log.read_text().split("\n")[:-1]
    assert sorted(line.split()[0] for line in setups) == ["x", "y"], setups
    assert len({line.split()[1] for line in setups}) == 1, setups
