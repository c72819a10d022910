"""A load generator for the runtime: an OpenAI-compatible model server that answers after a fixed delay.

It serves ``/v1/models`` (with vLLM's ``max_model_len``), ``/tokenize`` (a byte-based count) and
``/v1/chat/completions``: every request is answered after ``delay_s`` with one valid Qwen2.5-VL call
(``tool-call`` or, when the request stops on ``✿RESULT✿``, ``function-result-return``) and a ``usage``
whose visual tokens are counted from the images' own sizes. So the curve it produces is the runtime's,
not a model's: with a 1 s delay, N episodes at once should take about as long as one.

The answer's action (``--action``): ``click`` (a left_click at a seeded random point of the screenshot,
in its model-space size), ``move``, ``wait`` (0 s) or ``terminate``; ``--terminate-after K`` answers
terminate/success once a request carries K earlier assistant turns (ends episodes after K+1 steps).

As a scripted judge (``--verdicts success,failure,...``): the k-th request is answered with verdict k of the list
(cycled) in the judge's JSON form (policies/judge.py), and ``judged`` keeps what each request showed (its text and
how many images), so a test knows exactly what the judge said about which episode.

In-process (a thread with its own event loop)::

    with LoadServer(delay_s=1.0) as server:
        run_episode(base_url=server.base_url)

As a separate process (what a benchmark should use, so the server's CPU is not the client's)::

    with LoadServerProcess(delay_s=1.0) as server:   # spawns this file, reads its URL
        ...

From the command line (prints ``http://127.0.0.1:PORT/v1`` on its first line, serves until killed)::

    .venv/bin/python bench/load_server.py --delay 1.0 [--port 8000] [--action click] [--terminate-after K]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import io
import json
import random
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Literal

from aiohttp import web
from PIL import Image

IMAGE_FACTOR = 28  # Qwen2.5-VL: 14 px patches merged 2x2
TEMPORAL_PATCH = 2
DEFAULT_MODEL = "Qwen/Qwen2.5-VL-7B-Instruct"
Answer = Literal["click", "move", "wait", "terminate"]


def _image_size(url: str) -> tuple[int, int] | None:
    """(width, height) of a base64 data URL's image, reading only its header."""
    try:
        b64 = url.split(",", 1)[1]
        head = base64.b64decode(b64[: 8192 - 8192 % 4])  # PNG and JPEG headers are in the first few KB
        return Image.open(io.BytesIO(head)).size
    except Exception:  # not a data URL, or a header beyond 6 KB: count it as no image
        return None


def _visual_tokens(part: dict[str, Any]) -> int:
    if part.get("type") == "image_url":
        size = _image_size(part["image_url"]["url"])
        return (size[0] // IMAGE_FACTOR) * (size[1] // IMAGE_FACTOR) + 2 if size else 0
    if part.get("type") == "video_url":
        url = part["video_url"]["url"]
        frames = url.count(",")  # data:video/jpeg;base64,<f1>,<f2>,...
        size = _image_size(url)
        return (frames // TEMPORAL_PATCH) * (size[0] // IMAGE_FACTOR) * (size[1] // IMAGE_FACTOR) + 2 if size else 0
    return 0


def _text_bytes(messages: list[dict[str, Any]]) -> int:
    total = 0
    for m in messages:
        content = m.get("content") or ""
        parts = [content] if isinstance(content, str) else [p.get("text", "") for p in content if p.get("type") == "text"]
        total += sum(len(p.encode()) for p in parts) + 16
    return total


class LoadServer:
    """The server, run on its own thread and event loop; ``base_url`` once started."""

    def __init__(
        self,
        delay_s: float = 1.0,
        action: Answer = "click",
        terminate_after: int | None = None,
        model: str = DEFAULT_MODEL,
        max_model_len: int = 32768,
        host: str = "127.0.0.1",
        port: int = 0,
        seed: int = 0,
        verdicts: list[str] | None = None,
    ) -> None:
        self.delay_s, self.action, self.terminate_after = delay_s, action, terminate_after
        self.verdicts = verdicts
        self.judged: list[dict[str, Any]] = []
        self.model, self.max_model_len = model, max_model_len
        self.host, self.port = host, port
        self.requests = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self._rng = random.Random(seed)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    # -- handlers --------------------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application(client_max_size=256 * 1024 * 1024)
        app.router.add_get("/v1/models", self._models)
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_post("/tokenize", self._tokenize)
        app.router.add_get("/health", self._health)
        return app

    async def _health(self, _: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def _models(self, _: web.Request) -> web.Response:
        return web.json_response({"object": "list", "data": [
            {"id": self.model, "object": "model", "created": 0, "owned_by": "load-server", "max_model_len": self.max_model_len}
        ]})

    async def _tokenize(self, request: web.Request) -> web.Response:
        body = await request.json()
        return web.json_response({"count": _text_bytes(body.get("messages", [])) // 4})

    async def _chat(self, request: web.Request) -> web.Response:
        t0 = time.monotonic()
        self.requests += 1
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            body = json.loads(await request.read())
            if body.get("model") != self.model:
                return web.json_response({"object": "error", "message": f"The model `{body.get('model')}` does not exist.",
                                          "type": "NotFoundError", "code": 404}, status=404)
            messages = body.get("messages", [])
            if self.verdicts:
                content = self._verdict(messages)
            else:
                content = self._answer(messages, "✿RESULT✿" in (body.get("stop") or []))
            visual = sum(_visual_tokens(p) for m in messages if isinstance(m.get("content"), list) for p in m["content"])
            prompt_tokens = _text_bytes(messages) // 4 + visual
            completion_tokens = len(content) // 4
            await asyncio.sleep(max(0.0, self.delay_s - (time.monotonic() - t0)))
            return web.json_response({
                "id": f"chatcmpl-{uuid.uuid4().hex}", "object": "chat.completion", "created": int(time.time()),
                "model": self.model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                          "total_tokens": prompt_tokens + completion_tokens},
            })
        finally:
            self.in_flight -= 1

    def _verdict(self, messages: list[dict[str, Any]]) -> str:
        """The next scripted verdict, in the judge's JSON form; what the request showed is kept in ``judged``."""
        assert self.verdicts is not None
        k = len(self.judged)
        verdict = self.verdicts[k % len(self.verdicts)]
        parts = [p for m in messages if isinstance(m.get("content"), list) for p in m["content"]]
        self.judged.append({"verdict": verdict, "images": sum(p.get("type") == "image_url" for p in parts),
                            "text": "\n".join(p.get("text", "") for p in parts if p.get("type") == "text")})
        return json.dumps({"reasons": f"scripted verdict {k + 1}", "verdict": verdict})

    def _answer(self, messages: list[dict[str, Any]], function_protocol: bool) -> str:
        turns = sum(1 for m in messages if m.get("role") == "assistant")
        action = self.action
        if self.terminate_after is not None and turns >= self.terminate_after:
            action = "terminate"
        size = None
        for m in reversed(messages):
            if isinstance(m.get("content"), list):
                size = next((s for p in reversed(m["content"]) if p.get("type") == "image_url"
                             and (s := _image_size(p["image_url"]["url"]))), None)
                if size:
                    break
        width, height = size or (1288, 812)
        point = [self._rng.randrange(width), self._rng.randrange(height)]
        arguments: dict[str, Any] = {
            "click": {"action": "left_click", "coordinate": point},
            "move": {"action": "mouse_move", "coordinate": point},
            "wait": {"action": "wait", "time": 0},
            "terminate": {"action": "terminate", "status": "success"},
        }[action]
        call = json.dumps({"name": "computer_use", "arguments": arguments})
        if function_protocol:
            return f"Load step {turns + 1}.\n✿FUNCTION✿: computer_use\n✿ARGS✿: {json.dumps(arguments)}"
        return f"Load step {turns + 1}.\n<tool_call>\n{call}\n</tool_call>"

    # -- running ---------------------------------------------------------------------------

    async def serve(self) -> None:
        """Start serving on the current loop (``port`` is set once this returns)."""
        self._runner = web.AppRunner(self.app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, backlog=1024)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    def start(self) -> str:
        """Serve on a background thread; returns the base URL."""
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            self._loop = asyncio.new_event_loop()
            try:
                self._loop.run_until_complete(self.serve())
            except BaseException as exc:  # reported to start()'s caller
                failure.append(exc)
                ready.set()
                return
            ready.set()
            self._loop.run_forever()
            self._loop.run_until_complete(self._runner.cleanup())  # type: ignore[union-attr]
            self._loop.close()

        self._thread = threading.Thread(target=run, name="load-server", daemon=True)
        self._thread.start()
        ready.wait()
        if failure:
            raise failure[0]
        return self.base_url

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
            self._thread = None

    def __enter__(self) -> LoadServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class LoadServerProcess:
    """The server in a child process (``python bench/load_server.py``); ``base_url`` once started."""

    def __init__(self, delay_s: float = 1.0, action: Answer = "click", terminate_after: int | None = None,
                 model: str = DEFAULT_MODEL, max_model_len: int = 32768, port: int = 0) -> None:
        self.args = [f"--delay={delay_s}", f"--action={action}", f"--model={model}",
                     f"--max-model-len={max_model_len}", f"--port={port}"]
        if terminate_after is not None:
            self.args.append(f"--terminate-after={terminate_after}")
        self.proc: subprocess.Popen[str] | None = None
        self.base_url = ""

    def start(self) -> str:
        self.proc = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), *self.args],
                                     stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline().strip()  # type: ignore[union-attr]
        if not line.startswith("http://"):
            self.stop()
            raise RuntimeError(f"the load server did not start (it printed {line!r})")
        self.base_url = line
        return line

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None

    def __enter__(self) -> LoadServerProcess:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main() -> None:
    assert __doc__ is not None
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--delay", type=float, default=1.0, help="seconds before each answer")
    parser.add_argument("--action", choices=["click", "move", "wait", "terminate"], default="click")
    parser.add_argument("--terminate-after", type=int, default=None, help="answer terminate after K earlier steps")
    parser.add_argument("--model", default=DEFAULT_MODEL, help="the served model name")
    parser.add_argument("--max-model-len", type=int, default=32768)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0: a free port")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--verdicts", default=None, help="answer as a judge: these verdicts in turn (success,failure,...)")
    args = parser.parse_args()
    server = LoadServer(delay_s=args.delay, action=args.action, terminate_after=args.terminate_after, model=args.model,
                        max_model_len=args.max_model_len, host=args.host, port=args.port, seed=args.seed,
                        verdicts=args.verdicts.split(",") if args.verdicts else None)

    async def run() -> None:
        await server.serve()
        print(server.base_url, flush=True)
        await asyncio.Event().wait()

    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
