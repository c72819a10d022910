"""die_with_parent: a child started with it gets its signal when its parent is killed (SIGKILL, no cleanup).

The chain runs in a harness process that makes itself the orphans' reaper (PR_SET_CHILD_SUBREAPER), so it
can wait for the grandchild and read how it died: the kernel's event, not a guess at a duration.
"""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest

HARNESS = r"""
import ctypes, os, signal, subprocess, sys
ctypes.CDLL(None, use_errno=True).prctl(36, 1)  # PR_SET_CHILD_SUBREAPER: orphans below come to us
parent = subprocess.Popen([sys.executable, "-c", '''
import functools, signal, subprocess, sys
from guiagent.envs.lifetime import die_with_parent
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"],
                         preexec_fn=functools.partial(die_with_parent, SIG))
print(child.pid, flush=True)
time_to_die = sys.stdin.read()
'''.replace("SIG", sys.argv[1])], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
child = int(parent.stdout.readline())
parent.kill()
parent.wait()
_, status = os.waitpid(child, 0)  # the orphan is ours now
print(os.WTERMSIG(status) if os.WIFSIGNALED(status) else f"exited {os.WEXITSTATUS(status)}")
"""


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_a_child_dies_with_its_killed_parent(sig: signal.Signals) -> None:
    run = subprocess.run([sys.executable, "-c", HARNESS, str(int(sig))], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == str(int(sig))
