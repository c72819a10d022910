"""Shared fixtures: a local page server on 127.0.0.1, real Chromium through Playwright, the demo site."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from guiagent.agent.demo.server import DemoServer
from guiagent.envs.browser import BrowserConfig, BrowserEnv
from tests.xdist_groups import pytest_collection_modifyitems  # noqa: F401  (the hook: groups for --dist loadgroup)

PAGES_DIR = Path(__file__).parent / "pages"


class _PageHandler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802
        path = self.path.split("?", 1)[0].lstrip("/") or "index.html"
        file = PAGES_DIR / path
        if not file.is_file():
            self.send_response(404)
            self.end_headers()
            return
        body = file.read_bytes()
        self.send_response(200)
        ctype = "text/html; charset=utf-8" if file.suffix == ".html" else "application/octet-stream"
        self.send_header("Content-Type", ctype)
        if file.suffix == ".bin":
            self.send_header("Content-Disposition", f'attachment; filename="{file.name}"')
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="session")
def pages_url() -> Iterator[str]:
    """The test pages in tests/pages, served on 127.0.0.1 by the test session itself."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _PageHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def demo_site(tmp_path: Path) -> Iterator[DemoServer]:
    with DemoServer(state_path=tmp_path / "demo-state.json") as server:
        yield server


@pytest.fixture(scope="module", params=[1.0, 2.0], ids=["dpr1", "dpr2"])
def browser(request, tmp_path_factory) -> Iterator[BrowserEnv]:
    """A real headless Chromium at device scale factor 1 and 2."""
    downloads = tmp_path_factory.mktemp("downloads")
    env = BrowserEnv(BrowserConfig(device_scale_factor=request.param, downloads_dir=str(downloads)))
    env.reset()
    yield env
    env.close()


@pytest.fixture(scope="session")
def vllm_python():
    from tests.model.server import vllm_python as find

    python = find()
    if python is None:
        message = "no vLLM venv: run `make test` (or scripts/setup-vllm-venv) to create .venv-vllm"
        if os.environ.get("GUIAGENT_REQUIRE_VLLM"):
            pytest.fail(message)
        pytest.skip(message)
    return python


@pytest.fixture(scope="session")
def tiny_model(vllm_python):
    from tests.model.server import tiny_model as build

    return build(vllm_python)


@pytest.fixture(scope="session")
def vllm_server(vllm_python, tiny_model, tmp_path_factory):
    """A real vLLM server (CPU) serving the tiny random Qwen2.5-VL, once per test session."""
    from tests.model.server import VLLMServer

    with VLLMServer(vllm_python, tiny_model, tmp_path_factory.mktemp("vllm") / "server.log") as server:
        yield server
