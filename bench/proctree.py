"""Whole-machine CPU of a command's process tree, per process class, exited processes included.

The command runs under a subreaper (``python bench/proctree.py REAP_JSON -- cmd ...``: prctl
PR_SET_CHILD_SUBREAPER, then it waits until no descendant is left), so every process of the tree is
reaped inside it, forkserver children and daemons whose parent exits first included; its
``RUSAGE_CHILDREN`` is then the tree's exact CPU total.

The split by class comes from ``TreeSampler``, which reads ``/proc/<pid>/stat`` of the whole tree
(found through ``/proc/<pid>/task/<tid>/children``) every ``every_s``: each process counts with its last
reading of its own user+system time. What a process spent after its last reading (and what a process
too short-lived to be seen spent) reaches its parent's cutime+cstime when the parent reaps it: that
growth, less what the vanished children were last seen with, is counted to the vanished children's
class (``short-lived`` when none was seen); a subtree counts at least what its root reaped, and the
subreaper's reaped time is the exact total, so the classes add up to it (``unattributed``: rounding).
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

CLK_TCK = os.sysconf("SC_CLK_TCK")
PR_SET_CHILD_SUBREAPER = 36
CLASSES = ["python", "driver", "browser", "renderer", "gpu", "network", "utility", "xvfb", "app", "helpers", "short-lived",
           "unattributed"]


def classify(pid: int, comm: str) -> str:
    """The class of a process from its command line: guiagent's (or the raw script's) Python, Playwright's
    driver, Chromium's browser (and zygotes), renderer, GPU, network service and other utility processes, Xvfb, the desktop app, helpers."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        argv = [comm.encode()]
    line = b" ".join(argv).decode(errors="replace")
    exe = Path(argv[0].decode(errors="replace")).name if argv and argv[0] else comm
    if "--type=renderer" in line:
        return "renderer"
    if "--type=gpu-process" in line:
        return "gpu"
    if "--type=utility" in line:
        return "network" if "network.mojom" in line else "utility"
    if "--type=zygote" in line:
        return "browser"
    if "chrom" in exe or comm.startswith("chrom"):
        return "browser"
    if exe == "node" or comm == "node":
        return "driver"
    if exe.startswith("Xvfb") or comm == "Xvfb":
        return "xvfb"
    if "desktop_app" in line:
        return "app"
    if exe.startswith("python") or comm.startswith("python"):
        return "python"
    return "helpers"


def _stat(pid: int) -> tuple[str, int, int, int] | None:
    """(comm, ppid, own ticks, reaped children's ticks) of a live process, or None."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    comm = text[text.index("(") + 1: text.rindex(")")]
    f = text.rsplit(")", 1)[1].split()
    return comm, int(f[1]), int(f[11]) + int(f[12]), int(f[13]) + int(f[14])


def _children(pid: int) -> list[int]:
    out: list[int] = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            try:
                out += [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                continue
    except OSError:
        pass
    return out


@dataclass
class _Proc:
    cls: str
    ppid: int
    own: int = 0
    reaped: int = 0
    gone: bool = False
    comm: str = ""


@dataclass
class TreeSampler:
    """Reads the tree under ``root`` (the subreaper) every ``every_s`` on a thread, until ``stop``."""

    root: int
    every_s: float = 0.05
    procs: dict[int, _Proc] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        seen: set[int] = set()
        todo = [self.root]
        while todo:
            pid = todo.pop()
            st = _stat(pid)
            if st is None:
                continue
            comm, ppid, own, reaped = st
            proc = self.procs.get(pid)
            if proc is None or proc.gone:  # a new process (or a reused pid)
                proc = self.procs[pid] = _Proc(classify(pid, comm), ppid, comm=comm)
            elif proc.comm != comm:  # it exec'd something else
                proc.cls, proc.comm = classify(pid, comm), comm
            proc.ppid, proc.own, proc.reaped = ppid, own, reaped
            seen.add(pid)
            todo += _children(pid)
        for pid, proc in self.procs.items():
            if pid not in seen:
                proc.gone = True

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            self._sample()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def by_class(self, total_s: float) -> dict[str, float]:
        """CPU seconds per class; ``total_s`` is the exact total (the subreaper's RUSAGE_CHILDREN)."""
        out = dict.fromkeys(CLASSES, 0.0)
        kids: dict[int, list[int]] = {}
        for pid, proc in self.procs.items():
            if pid != self.root:
                kids.setdefault(proc.ppid, []).append(pid)

        def counted(pid: int) -> int:
            """Ticks counted for ``pid``'s subtree: its own, its children's, and what its reaped time shows
            beyond them (the children's time after their last reading), counted to their class."""
            proc = self.procs[pid]
            below = sum(counted(c) for c in kids.get(pid, []))
            reaped = round(total_s * CLK_TCK) if pid == self.root else proc.reaped
            if reaped > below:
                seen = [self.procs[c] for c in kids.get(pid, [])]
                cls = max(seen, key=lambda v: v.own).cls if seen else "short-lived"
                out[cls] += (reaped - below) / CLK_TCK
            if pid != self.root:
                out[proc.cls] += proc.own / CLK_TCK
            return proc.own + max(reaped, below)

        counted(self.root)
        out["unattributed"] = total_s - sum(out.values())
        return out


def run_tree(cmd: list[str], every_s: float = 0.05, **popen: object) -> tuple[float, dict[str, float], int]:
    """Run ``cmd`` under the subreaper: (exact total CPU s, CPU s per class, the command's exit code)."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "rusage.json"
        reaper = subprocess.Popen([sys.executable, __file__, str(out), "--", *cmd], **popen)  # type: ignore[call-overload]
        sampler = TreeSampler(reaper.pid, every_s)
        reaper.wait()
        sampler.stop()
        result = json.loads(out.read_text())
    return result["cpu_s"], sampler.by_class(result["cpu_s"]), result["rc"]


def reap(out: Path, cmd: list[str]) -> None:
    """Become the subreaper, run ``cmd``, reap every descendant, write the tree's CPU and cmd's exit code."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        sys.exit(f"prctl(PR_SET_CHILD_SUBREAPER) failed: {os.strerror(ctypes.get_errno())}")
    main = subprocess.Popen(cmd)
    rc = None
    while True:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            break
        if pid == main.pid:
            rc = os.waitstatus_to_exitcode(status)
            main.returncode = rc
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    out.write_text(json.dumps({"cpu_s": usage.ru_utime + usage.ru_stime, "rc": rc}))


if __name__ == "__main__":
    if len(sys.argv) < 4 or sys.argv[2] != "--":
        sys.exit("usage: proctree.py OUT.json -- command ...")
    reap(Path(sys.argv[1]), sys.argv[3:])
