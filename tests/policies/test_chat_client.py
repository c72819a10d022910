"""The model server client: answers, retries on 5xx, and one clear sentence per failure (real HTTP on 127.0.0.1)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from bench.load_server import LoadServer
from guiagent.policies import PolicyError
from guiagent.policies.chat_client import ChatClient
from guiagent.policies.vlm import VLMConfig, VLMPolicy
from tests.model.server import free_port


def client(url: str, model: str = "Qwen/Qwen2.5-VL-7B-Instruct", retries: int = 2) -> ChatClient:
    return ChatClient(url, model, "EMPTY", "GUIAGENT_API_KEY", 30, 5, retries)


class Scripted(BaseHTTPRequestHandler):
    """Answers each request with the next (status, body) of ``replies``."""

    replies: list[tuple[int, dict]] = []
    seen: list[str] = []

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_POST(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers["Content-Length"]))
        Scripted.seen.append(self.headers["Authorization"])
        status, body = Scripted.replies.pop(0)
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if status == 503:
            self.send_header("Retry-After", "0.01")
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def scripted():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Scripted)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    Scripted.seen = []
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


def test_models_and_a_chat_answer():
    with LoadServer(delay_s=0.0) as server:
        c = client(server.base_url)
        assert c.models()[0]["max_model_len"] == 32768
        answer = c.chat({"model": "Qwen/Qwen2.5-VL-7B-Instruct", "messages": [{"role": "user", "content": "hi"}]})
        assert "<tool_call>" in answer["choices"][0]["message"]["content"] and answer["usage"]["prompt_tokens"] > 0
        assert c.tokenize({"model": "x", "messages": [{"role": "user", "content": "hello there"}]}, 5) > 0
        with pytest.raises(PolicyError, match=r"^model 'other' is not served at http://127.0.0.1:\d+/v1: The model `other` does not exist.$"):
            client(server.base_url, model="other").chat({"model": "other", "messages": []})
        c.close()


def test_a_5xx_is_retried_and_a_400_is_explained(scripted):
    ok = {"choices": [{"message": {"content": "fine"}}]}
    Scripted.replies = [(503, {"message": "busy"}), (500, {"error": {"message": "oops"}}), (200, ok)]
    assert client(scripted).chat({})["choices"][0]["message"]["content"] == "fine"
    assert Scripted.seen == ["Bearer EMPTY"] * 3
    Scripted.replies = [(400, {"error": {"message": "At most 0 video(s) may be provided in one prompt."}})]
    with pytest.raises(PolicyError, match="refuses this many images/videos per prompt.*--limit-mm-per-prompt"):
        client(scripted).chat({})
    Scripted.replies = [(502, {"message": "down"})] * 2
    with pytest.raises(PolicyError, match=r"failed \(502\): down$"):
        client(scripted, retries=1).chat({})
    Scripted.replies = [(200, {"object": "list"})]
    with pytest.raises(PolicyError, match="answered without a choice"):
        client(scripted).chat({})


def test_an_unreachable_server_is_named():
    url = f"http://127.0.0.1:{free_port()}/v1"
    with pytest.raises(PolicyError, match=rf"^cannot reach the model server at {url} \(is it running\?\)$"):
        client(url, retries=1).models()
    assert client(url).tokenize({}, 1) == 0


def test_an_injected_transport_carries_every_request_of_one_client():
    """A fake at a named boundary: ``httpx.MockTransport`` stands for the network under the client (what a proxy or
    mTLS transport replaces), so that a server's late and malformed answers come without a clock or a socket."""
    seen: list[str] = []

    def server(request: httpx.Request) -> httpx.Response:
        seen.append(f"{request.method} {request.url.path}")
        if request.url.path.endswith("/models"):
            return httpx.Response(200, json={"data": [{"id": "m", "max_model_len": 4096}]})
        return httpx.Response(200, content=b"<html>not json</html>")

    def late(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("no answer", request=request)  # the answer never comes in time

    url = "http://model.invalid/v1"
    policy = VLMPolicy(VLMConfig(base_url=url, model="m"), transport=httpx.MockTransport(server))
    assert policy.served_models() == [{"id": "m", "max_model_len": 4096}]
    malformed = ChatClient(url, "m", "EMPTY", "X", 30, 5, 2, transport=httpx.MockTransport(server))
    with pytest.raises(PolicyError, match=rf"^the model server at {url} sent something other than JSON: '<html>not json</html>'$"):
        malformed.chat({})
    assert seen == ["GET /v1/models", "POST /v1/chat/completions"]  # not retried: garbage is no busy server
    slow = ChatClient(url, "m", "EMPTY", "X", 30, 5, 2, transport=httpx.MockTransport(late))
    with pytest.raises(PolicyError, match=rf"^the model server at {url} did not answer within 30s$"):
        slow.models()
    assert slow.tokenize({}, 5) == 0  # a late /tokenize is no count, not a failure
    for closing in (policy, malformed, slow):
        closing.close()
