"""The load generator (bench/load_server.py) answers like a model server: valid calls, usage, concurrency."""

from __future__ import annotations

import base64
import concurrent.futures
import io

import httpx
from PIL import Image

from bench.load_server import LoadServer, LoadServerProcess
from guiagent.policies.media import image_tokens, video_tokens
from guiagent.tools.parsing import parse_answer


def _data_url(width: int, height: int, fmt: str = "PNG") -> str:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), "white").save(buf, fmt)
    return base64.b64encode(buf.getvalue()).decode()


def _request(turns: int = 0, stop: list[str] | None = None) -> dict:
    jpeg = _data_url(224, 140, "JPEG")
    content = [
        {"type": "text", "text": "the past"},
        {"type": "video_url", "video_url": {"url": f"data:video/jpeg;base64,{jpeg},{jpeg},{jpeg},{jpeg}"}},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{_data_url(588, 364)}"}},
    ]
    history = [{"role": "assistant", "content": "earlier"}, {"role": "user", "content": "ok"}] * turns
    body = {"model": "Qwen/Qwen2.5-VL-7B-Instruct", "messages": [*history, {"role": "user", "content": content}]}
    return body | ({"stop": stop} if stop else {})


def test_answers_are_valid_calls_inside_the_screen_with_the_visual_tokens_counted():
    with LoadServer(delay_s=0.0, terminate_after=2) as server:
        models = httpx.get(f"{server.base_url}/models").json()["data"]
        assert models[0]["id"] == "Qwen/Qwen2.5-VL-7B-Instruct" and models[0]["max_model_len"] == 32768
        answer = httpx.post(f"{server.base_url}/chat/completions", json=_request()).json()
        action = parse_answer(answer["choices"][0]["message"]["content"], "tool-call", "desktop", "qwen2.5-vl").actions[0]
        assert action.action == "left_click" and action.coordinate is not None and 0 <= action.coordinate[0] < 588 and 0 <= action.coordinate[1] < 364
        visual = image_tokens(364, 588) + video_tokens(4, 140, 224)
        assert answer["usage"]["prompt_tokens"] > visual
        fn = httpx.post(f"{server.base_url}/chat/completions", json=_request(stop=["✿RESULT✿"])).json()
        assert parse_answer(fn["choices"][0]["message"]["content"], "function-result-return", "desktop", "qwen2.5-vl").actions[0].action == "left_click"
        last = httpx.post(f"{server.base_url}/chat/completions", json=_request(turns=2)).json()
        assert parse_answer(last["choices"][0]["message"]["content"], "tool-call", "desktop", "qwen2.5-vl").actions[0].action == "terminate"
        wrong = httpx.post(f"{server.base_url}/chat/completions", json=_request() | {"model": "other"})
        assert wrong.status_code == 404


def test_requests_are_served_concurrently():
    with LoadServer(delay_s=2.0) as server:
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda _: httpx.post(f"{server.base_url}/chat/completions", json=_request(), timeout=30), range(8)))
        assert server.requests == 8 and server.max_in_flight >= 2  # one answer does not wait for another


def test_runs_as_a_child_process_and_stops():
    with LoadServerProcess(delay_s=0.0, action="wait") as server:
        answer = httpx.post(f"{server.base_url}/chat/completions", json=_request()).json()
        assert parse_answer(answer["choices"][0]["message"]["content"], "tool-call", "desktop", "qwen2.5-vl").actions[0].action == "wait"
        proc = server.proc
    assert proc is not None
    assert proc.poll() is not None
