"""A real vLLM OpenAI server on 127.0.0.1 serving the tiny random Qwen2.5-VL, for the tests.

The model is built offline by build_tiny_qwen.py (cached under .cache/, keyed by the builder's
hash); the server runs from the vLLM venv that ``make test`` creates (scripts/setup-vllm-venv).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from guiagent.envs.lifetime import die_with_parent

ROOT = Path(__file__).resolve().parents[2]
BUILDER = Path(__file__).with_name("build_tiny_qwen.py")
MODEL_NAME = "tiny-qwen25vl"


def vllm_python() -> Path | None:
    explicit = os.environ.get("GUIAGENT_VLLM_PYTHON")
    # absolute (not resolved: a venv's python is a symlink out of the venv), so a test may change cwd
    path = Path(explicit).absolute() if explicit else ROOT / ".venv-vllm" / "bin" / "python"
    return path if path.exists() else None


@contextlib.contextmanager
def _building(out: Path) -> Iterator[None]:
    """Hold ``out``'s build lock: the test workers (pytest-xdist) build each tiny model once, one at a time."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out.with_name(out.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def tiny_model(python: Path) -> Path:
    """Build (once) and return the tiny model's folder."""
    digest = hashlib.sha256(BUILDER.read_bytes()).hexdigest()[:12]
    out = ROOT / ".cache" / f"tiny-qwen25vl-{digest}"
    with _building(out):
        if not (out / "guiagent-tiny.json").exists():
            subprocess.run([str(python), str(BUILDER), str(out)], check=True, capture_output=True, text=True, timeout=600)
    return out


FAMILY_BUILDER = Path(__file__).with_name("build_tiny_family.py")
PEERS_BUILDER = Path(__file__).with_name("build_tiny_peers.py")  # InternVL2.5 and Pixtral, HF format


def tiny_family_model(python: Path, family: str) -> Path:
    """Build (once) and return a tiny model of another family (qwen2-vl, qwen3-vl, internvl2.5, pixtral)."""
    builder = PEERS_BUILDER if family in ("internvl2.5", "pixtral") else FAMILY_BUILDER
    digest = hashlib.sha256(builder.read_bytes() + BUILDER.read_bytes()).hexdigest()[:12]
    out = ROOT / ".cache" / f"tiny-{family}-{digest}"
    with _building(out):
        if not (out / "guiagent-tiny.json").exists():
            subprocess.run([str(python), str(builder), family, str(out)], check=True, capture_output=True, text=True,
                           timeout=600)
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class VLLMServer:
    """Start with ``with VLLMServer(...) as server:``; ``server.base_url`` is the /v1 root."""

    def __init__(self, python: Path, model_dir: Path, log: Path, limit_mm: dict | None = None, max_model_len: int = 4096,
                 name: str = MODEL_NAME) -> None:
        self.python, self.model_dir, self.log, self.name = python, model_dir, log, name
        self.port = free_port()
        self.limit_mm = limit_mm or {"image": 2, "video": 1}
        self.max_model_len = max_model_len
        self.proc: subprocess.Popen | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self, timeout: float = 300) -> VLLMServer:
        cache = self.log.parent / "vllm-cache"
        env = {
            **os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "VLLM_CPU_KVCACHE_SPACE": "1",
            "VLLM_CACHE_ROOT": str(cache), "VLLM_NO_USAGE_STATS": "1", "DO_NOT_TRACK": "1",
        }
        args = [
            str(self.python), "-m", "vllm.entrypoints.openai.api_server", "--model", str(self.model_dir),
            "--served-model-name", self.name, "--host", "127.0.0.1", "--port", str(self.port),
            "--enforce-eager", "--dtype", "bfloat16", "--max-model-len", str(self.max_model_len),
            "--limit-mm-per-prompt", json.dumps(self.limit_mm), "--trust-request-mm-kwargs",
            "--structured-outputs-config", '{"backend": "xgrammar", "disable_any_whitespace": true}',
        ]
        self.proc = subprocess.Popen(args, env=env, stdout=open(self.log, "w"), stderr=subprocess.STDOUT,
                                     start_new_session=True, preexec_fn=die_with_parent)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"vLLM exited with {self.proc.returncode}; log:\n{self.log.read_text()[-3000:]}")
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/health", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(1)
        self.stop()
        raise RuntimeError(f"vLLM not ready after {timeout:g}s; log:\n{self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()

    def kill(self) -> None:
        """SIGKILL the server and everything it started (a crash, for the failure tests)."""
        if self.proc is not None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def __enter__(self) -> VLLMServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
