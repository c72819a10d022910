"""The sandbox of a desktop app: bubblewrap gives it the system read-only, a fresh HOME made for the episode, a
private /tmp, its own process tree, and (unless the task asks for network) no network at all.

What it sees: /usr, /etc and the other system folders read-only; the episode's HOME read-write; the X socket
folder and the session's runtime folder (D-Bus and AT-SPI sockets). What it does not: the host's HOME, /tmp,
/work or any other folder, the host's processes, and (without ``network``) any network interface but its own
loopback, so not the host's 127.0.0.1 either. What it does not isolate: the X server (an app can read and
drive every window of the episode's display, which is the episode's own) and the session bus of the episode.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from guiagent.envs.base import EnvError
from guiagent.envs.cleanenv import clean_environ

SYSTEM = ("/usr", "/etc", "/opt", "/var/cache/fontconfig", "/var/lib/dbus")
MERGED = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")


class SandboxConfig(BaseModel):
    """Whether launched apps run sandboxed, and with network or not. Recorded in meta.json."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(default=False, description="Run the app under bubblewrap with a fresh HOME and no network.")
    network: bool = Field(default=False, description="Let the sandboxed app use the host's network.")


@functools.cache
def bwrap_path() -> str:
    """bubblewrap's path, once it has shown it can make namespaces here; else one clear sentence."""
    path = shutil.which("bwrap")
    if path is None:
        raise EnvError("bwrap not found: install Debian's package bubblewrap (or run with --no-sandbox)")
    probe = subprocess.run([path, "--ro-bind", "/", "/", "--unshare-net", "--unshare-pid", "true"],
                           capture_output=True, text=True, check=False, env=clean_environ())
    if probe.returncode != 0:
        reason = probe.stderr.strip().splitlines()[-1] if probe.stderr.strip() else f"exit {probe.returncode}"
        raise EnvError(f"the sandbox cannot start here (user namespaces unavailable? bwrap says: {reason}); "
                       "run with --no-sandbox to launch apps without one")
    return path


def sandboxed(argv: list[str], home: Path, share: list[str], network: bool = False) -> list[str]:
    """``argv`` wrapped in bubblewrap: HOME is ``home``, ``share`` folders (sockets) are bound read-write."""
    args = [bwrap_path(), "--die-with-parent", "--unshare-pid", "--unshare-uts", "--unshare-cgroup-try"]
    if not network:
        args.append("--unshare-net")
    for folder in SYSTEM:
        if os.path.isdir(folder):
            args += ["--ro-bind", folder, folder]
    for folder in MERGED:
        if os.path.islink(folder):
            args += ["--symlink", os.readlink(folder), folder]
        elif os.path.isdir(folder):
            args += ["--ro-bind", folder, folder]
    args += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--dir", "/tmp/.X11-unix",
             "--ro-bind", "/tmp/.X11-unix", "/tmp/.X11-unix"]
    for folder in share:
        args += ["--bind", folder, folder]
    home = home.resolve()
    args += ["--bind", str(home), str(home), "--setenv", "HOME", str(home), "--chdir", str(home)]
    return [*args, "--", *argv]
