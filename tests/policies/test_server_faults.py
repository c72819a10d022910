"""A model server that misbehaves other than by refusing connections: each fault against a fake server.

The fake is the model server (the boundary under test): ``FaultyServer``, bench/load_server.py's aiohttp
server on 127.0.0.1, answering each chat request with the next fault of its list (then with a valid call).
Everything else is real: the chat client, VLMPolicy, the loop on Chromium, the trajectory and its resume,
the batch router over several servers. No test waits on a clock except to bound a hang generously.
"""

from __future__ import annotations

import asyncio
import io
import time

import pytest
from aiohttp import web
from PIL import Image

from bench.load_server import LoadServer
from guiagent.agent.batch.router import ServerTable, routed_policy
from guiagent.agent.loop import LoopConfig
from guiagent.agent.runner import RunSpec, resume_episode, start_episode
from guiagent.agent.spec import BrowserEnvSpec, VLMPolicySpec
from guiagent.agent.trajectory import load_trajectory
from guiagent.policies import DecisionContext, PolicyError, PolicyUnavailable
from guiagent.policies.chat_client import MAX_RESPONSE_BYTES, ChatClient
from guiagent.policies.media import VideoConfig
from guiagent.policies.vlm import VLMConfig
from guiagent.tools import FrameGeometry, Observation

MODEL = "faulty-model"
BIG = 50 * 2**20


class FaultyServer(LoadServer):
    """A fake model server: each chat request gets the next of ``faults`` (``hang``, ``500``,
    ``429:<Retry-After>``, ``garbage``, ``huge``, ``huge-declared``, ``drip``), then a valid answer."""

    def __init__(self) -> None:
        super().__init__(delay_s=0.0, action="terminate", model=MODEL)
        self.faults: list[str] = []
        self.chat_requests = 0
        self.sent = 0  # bytes of the last huge answer that the client took before it hung up
        self.faulting = 0  # fault handlers still running
        self._released: asyncio.Event | None = None

    async def _chat(self, request: web.Request) -> web.StreamResponse:  # type: ignore[override]
        self.chat_requests += 1
        if not self.faults:
            return await super()._chat(request)
        self.faulting += 1
        try:
            return await self._fault(request, self.faults.pop(0))
        finally:
            self.faulting -= 1

    async def _fault(self, request: web.Request, fault: str) -> web.StreamResponse:
        await request.read()
        if fault == "hang":  # accepted, never answered (until the test ends)
            self._released = self._released or asyncio.Event()
            await asyncio.wait_for(self._released.wait(), timeout=600)
            return web.Response(status=204)
        if fault == "500":
            return web.json_response({"error": {"message": "internal error"}}, status=500)
        if fault.startswith("429:"):
            return web.json_response({"error": {"message": "rate limited"}}, status=429,
                                     headers={"Retry-After": fault.removeprefix("429:")})
        if fault == "garbage":
            return web.Response(text="<html><body>502 Bad Gateway</body></html>", content_type="application/json")
        if fault in ("huge", "huge-declared"):
            response = web.StreamResponse(headers={"Content-Type": "application/json"})
            if fault == "huge-declared":
                response.content_length = BIG
            await response.prepare(request)
            self.sent = 0
            chunk = b'{"choices": [' + b" " * (2**20 - 13)
            try:
                while self.sent < BIG:
                    await response.write(chunk)
                    self.sent += len(chunk)
            except (ConnectionError, RuntimeError):  # the client hung up
                pass
            return response
        if fault == "drip":  # a byte every 0.2 s, for ever (while the client listens)
            response = web.StreamResponse(headers={"Content-Type": "application/json"})
            await response.prepare(request)
            try:
                for _ in range(3000):
                    await response.write(b" ")
                    await asyncio.sleep(0.2)
            except (ConnectionError, RuntimeError):
                pass
            return response
        raise AssertionError(f"unknown fault {fault}")

    def stop(self) -> None:
        if self._loop is not None and self._released is not None:
            self._loop.call_soon_threadsafe(self._released.set)
        super().stop()


@pytest.fixture
def faulty():
    with FaultyServer() as server:
        yield server


def client(server: LoadServer, timeout_s: float = 10.0, retries: int = 2, cap: int | None = None) -> ChatClient:
    return ChatClient(server.base_url, MODEL, "EMPTY", "GUIAGENT_API_KEY", timeout_s, 2.0, retries,
                      max_response_bytes=cap or MAX_RESPONSE_BYTES)


BODY = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}]}


def test_a_hang_ends_at_the_request_timeout(faulty):
    faulty.faults = ["hang"] * 5
    t0 = time.monotonic()
    with pytest.raises(PolicyUnavailable, match=rf"^the model server at {faulty.base_url} did not answer within 1.5s$"):
        client(faulty, timeout_s=1.5).chat(BODY)
    assert time.monotonic() - t0 < 60  # bounded (1.5 s, loose for a loaded machine); not retried past it
    assert faulty.chat_requests == 1


def test_a_slow_drip_ends_at_the_request_timeout(faulty):
    faulty.faults = ["drip"]
    t0 = time.monotonic()
    with pytest.raises(PolicyUnavailable, match="did not answer within 1.5s$"):
        client(faulty, timeout_s=1.5).chat(BODY)
    assert time.monotonic() - t0 < 60  # each byte came in time, the whole answer did not
    assert faulty.chat_requests == 1


def test_500_is_retried_then_unavailable(faulty):
    faulty.faults = ["500", "500"]
    assert client(faulty, timeout_s=30, retries=2).chat(BODY)["choices"]  # two retries: the third answers
    assert faulty.chat_requests == 3
    faulty.faults, faulty.chat_requests = ["500"] * 3, 0
    with pytest.raises(PolicyUnavailable, match=r"failed \(500\): internal error$"):
        client(faulty, timeout_s=30, retries=2).chat(BODY)
    assert faulty.chat_requests == 3


def test_429_waits_as_the_server_asks_within_the_budget(faulty):
    faulty.faults = ["429:0.3", "429:0.3"]
    t0 = time.monotonic()
    assert client(faulty, timeout_s=30, retries=3).chat(BODY)["choices"]
    assert time.monotonic() - t0 >= 0.6 and faulty.chat_requests == 3  # waited as asked, never less
    date = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 3600))
    for after in ("3600", date):  # past the request's deadline: refused at once, not slept on
        faulty.faults, faulty.chat_requests = [f"429:{after}"], 0
        with pytest.raises(PolicyUnavailable, match=r"is busy \(429\) and asked to be retried after \d+(\.\d+)?s, "
                                                    r"past this request's 30s$"):
            client(faulty, timeout_s=30, retries=3).chat(BODY)
        assert faulty.chat_requests == 1
    faulty.faults, faulty.chat_requests = ["429:0"] * 2, 0
    with pytest.raises(PolicyUnavailable, match=r"is busy \(429\): rate limited$"):  # the retries ran out
        client(faulty, timeout_s=30, retries=1).chat(BODY)


def test_garbage_json_is_not_retried(faulty):
    faulty.faults = ["garbage"]
    with pytest.raises(PolicyUnavailable, match="sent something other than JSON: '<html><body>502 Bad Gateway"):
        client(faulty).chat(BODY)
    assert faulty.chat_requests == 1


@pytest.mark.parametrize("fault", ["huge", "huge-declared"])
def test_an_oversized_answer_is_dropped_without_reading_it(faulty, fault):
    faulty.faults = [fault]
    with pytest.raises(PolicyUnavailable, match=r"sent an answer longer than 1 MB; it was dropped unread$"):
        client(faulty, timeout_s=30, cap=2**20).chat(BODY)
    deadline = time.monotonic() + 60
    while faulty.faulting and time.monotonic() < deadline:  # the server's handler sees the hang-up
        time.sleep(0.05)
    # the client hung up at the cap: what the server wrote beyond it went into socket buffers, not memory
    assert faulty.faulting == 0 and faulty.sent < BIG * 0.6, faulty.sent
    assert faulty.chat_requests == 1


def test_the_default_cap_is_far_above_an_answer_and_far_below_memory():
    assert 2**20 < MAX_RESPONSE_BYTES <= 64 * 2**20


def _observation() -> Observation:
    png = io.BytesIO()
    Image.new("RGB", (1280, 800), (240, 240, 240)).save(png, "PNG")
    return Observation(image=png.getvalue(), t=time.time(), geometry=FrameGeometry(width=1280, height=800))


@pytest.mark.parametrize("fault", ["hang", "500", "429:3600", "garbage", "huge", "drip"])
def test_a_batch_routes_around_a_faulty_server(fault, faulty, tmp_path):
    with LoadServer(delay_s=0.0, action="terminate", model=MODEL) as good:
        faulty.faults = [fault] * 10
        spec = RunSpec(policy=VLMPolicySpec(vlm=VLMConfig(model=MODEL, max_retries=1, request_timeout_s=5,
                                                   video=VideoConfig(history_seconds=0), max_context=32768)))
        policy = routed_policy(spec, [faulty.base_url, good.base_url], tmp_path)
        context = DecisionContext(task="finish", step=0, max_steps=5, observation=_observation())
        decision = policy.decide(context)
        assert decision.info["server"] == good.base_url and decision.actions[0].action == "terminate"
        table = ServerTable(tmp_path / ".model-servers.json", [faulty.base_url, good.base_url]).snapshot()
        assert table[faulty.base_url]["down_until"] > time.time()  # taken out for a while
        assert faulty.chat_requests >= 1 and good.requests == 1


def test_a_request_the_server_refuses_is_not_taken_for_a_fault(tmp_path):
    """A 404 (a model not served) is the request's problem: not unavailable, not routed around."""
    with LoadServer(delay_s=0.0, model=MODEL) as server:
        with pytest.raises(PolicyError) as caught:
            client(server).chat({**BODY, "model": "other"})
        assert not isinstance(caught.value, PolicyUnavailable)


PAGE = b"<!doctype html><title>Faults</title><h1>Nothing to do here</h1>"


@pytest.fixture(scope="module")
def page_url():
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Page(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(PAGE)))
            self.end_headers()
            self.wfile.write(PAGE)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def test_each_fault_ends_the_episode_as_an_error_that_resumes(faulty, page_url, tmp_path):
    """On Chromium, through the loop: each fault ends the episode with outcome ``error`` and one sentence;
    resumed once the server behaves, the episode goes on and succeeds."""
    vlm = VLMConfig(base_url=faulty.base_url, model=MODEL, max_retries=1, request_timeout_s=5,
                    video=VideoConfig(history_seconds=0), max_context=32768)
    spec = RunSpec(env=BrowserEnvSpec(start_url=page_url), policy=VLMPolicySpec(vlm=vlm), task="Finish.", loop=LoopConfig(max_steps=20))
    out = tmp_path / "episode"
    for i, fault in enumerate(["hang", "500", "429:3600", "garbage", "huge", "drip"]):
        faulty.faults = [fault] * 2
        result = start_episode(spec, out) if i == 0 else resume_episode(out)
        assert result.status == "error", (fault, result)
        meta = load_trajectory(out).meta
        assert meta.outcome == "error" and meta.reason, fault
        assert meta.reason.startswith(f"model-server: the model server at {faulty.base_url} ") and "\n" not in meta.reason
    faulty.faults = []
    result = resume_episode(out)
    assert result.status == "unverified", result  # no success check: its word
    traj = load_trajectory(out)
    assert traj.meta.outcome == "unverified" and len(traj.meta.segments) == 7
    assert [s.after for s in traj.meta.segments[1:]] == ["error"] * 6
