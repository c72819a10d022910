"""The live view's web server: one page, its state as server-sent events, frames, and the controls.

Starlette on uvicorn, on a thread of the process that runs the episode (or of ``guiagent watch``). It listens on
one port of 127.0.0.1 unless told another host, and answers only requests that carry its token (a random one,
in the URL printed once). Nothing is built for the page: it is one HTML file with its script. The event stream
sends the state when it changed, and the number of the newest live frame (``screen``) when one came; the page then
fetches that frame's bytes, as the runtime took them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import threading
from collections.abc import AsyncIterator, Callable
from importlib import resources
from typing import Any

import anyio
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from guiagent.agent.live.controls import ControlError, LiveControls
from guiagent.agent.live.folder import BatchFolder, EpisodeFolder
from guiagent.agent.live.screen import LiveScreen
from guiagent.agent.trajectory import FRAMES_DIR
from guiagent.agent.watch_mark import LIVE_FRAME, WatchMark

TOKEN_HEADER = "x-guiagent-token"
POLL_S = 0.4
"""How often the event stream looks at the folder for something new (a stat and a read of new lines), on the
server's event loop (a hop to a worker thread costs more than the look)."""
SCREEN_S = 0.1
"""The least time between two live frames sent to a page (it shows at most 1/SCREEN_S a second)."""


def _page() -> str:
    return resources.files("guiagent.agent.live").joinpath("page.html").read_text(encoding="utf-8")


class LiveServer:
    """Serve the live view of ``folder`` (with ``controls`` when the episode runs in this process)."""

    def __init__(self, folder: EpisodeFolder | BatchFolder, controls: LiveControls | None = None,
                 host: str = "127.0.0.1", port: int = 0, on_answer: Callable[[bool, str | None], None] | None = None,
                 screen: LiveScreen | None = None) -> None:
        self.folder, self.controls, self.host, self.screen = folder, controls, host, screen
        self.on_answer = on_answer  # watch: an approval answered by resuming the folder (guiagent approve's path)
        self.token = secrets.token_urlsafe(18)
        # the episodes run in other processes: a page open here asks them for their live frames (a mark in the folder)
        self.mark = WatchMark(folder.root) if screen is None else None
        self._lock = threading.Lock()
        app = Starlette(routes=[
            Route("/", self._index), Route("/state", self._state), Route("/events", self._events),
            Route("/file/{path:path}", self._file), Route("/control/{name}", self._control, methods=["POST"]),
            Route("/act", self._act, methods=["POST"]), Route("/screen", self._screen),
        ])
        config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="off", timeout_graceful_shutdown=1)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="live view", daemon=True)
        self.port = 0

    # -- lifetime -----------------------------------------------------------------------------

    def start(self, timeout: float = 30.0) -> LiveServer:
        self._thread.start()
        waited = 0.0
        while not self._server.started:
            if not self._thread.is_alive() or waited > timeout:
                raise OSError(f"the live view could not listen on {self.host}")
            threading.Event().wait(0.05)
            waited += 0.05
        self.port = self._server.servers[0].sockets[0].getsockname()[1]
        return self

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/?token={self.token}"

    def close(self) -> None:
        self._server.should_exit = True
        self._thread.join(10)

    def __enter__(self) -> LiveServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- requests ---------------------------------------------------------------------------------

    def _allowed(self, request: Request) -> bool:
        given = request.query_params.get("token") or request.headers.get(TOKEN_HEADER) or ""
        return secrets.compare_digest(given, self.token)

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            snap = self.folder.snapshot()
        snap["controls"] = self.controls.state() if self.controls is not None else None
        snap["can_answer"] = self.controls is not None or self.on_answer is not None
        return snap

    async def _index(self, request: Request) -> Response:
        if not self._allowed(request):
            return PlainTextResponse("a token is needed: open the URL the command printed", status_code=403)
        return HTMLResponse(_page())

    async def _state(self, request: Request) -> Response:
        if not self._allowed(request):
            return PlainTextResponse("forbidden", status_code=403)
        return JSONResponse(await anyio.to_thread.run_sync(self.snapshot))

    async def _events(self, request: Request) -> Response:
        if not self._allowed(request):
            return PlainTextResponse("forbidden", status_code=403)

        screen, mark = self.screen, self.mark

        async def stream() -> AsyncIterator[str]:
            last, shown = None, 0
            waker = _Waker(asyncio.get_running_loop())
            if screen is not None:
                screen.subscribe(waker)
            if mark is not None:
                mark.join()
            try:
                while not self._server.should_exit:
                    if mark is not None:
                        mark.refresh()
                    snap = self.snapshot()
                    seen = (self.folder.version, json.dumps(snap["controls"]))  # what changed, not dumping the steps
                    if seen != last:
                        last = seen
                        yield f"data: {json.dumps(snap)}\n\n"
                    if screen is not None and screen.seq != shown:
                        shown = screen.seq
                        yield f"event: screen\ndata: {shown}\n\n"
                        await asyncio.sleep(SCREEN_S)  # frames that come meanwhile: the newest is sent next
                    await waker.wait(POLL_S)
            except asyncio.CancelledError:
                return
            finally:
                if screen is not None:
                    screen.subscribe(waker, joined=False)
                if mark is not None:
                    mark.leave()

        return StreamingResponse(stream(), media_type="text/event-stream", headers={"Cache-Control": "no-store"})

    async def _file(self, request: Request) -> Response:
        if not self._allowed(request):
            return PlainTextResponse("forbidden", status_code=403)
        root = self.folder.root.resolve()
        path = (root / request.path_params["path"]).resolve()
        live = path.name == LIVE_FRAME  # an episode's live frame (written while watched), else a recorded one
        if not path.is_relative_to(root) or not (live or path.parent.name == FRAMES_DIR) or not path.is_file():
            return PlainTextResponse("no such frame", status_code=404)
        if live:
            try:
                data = await anyio.to_thread.run_sync(path.read_bytes)  # whole: it is replaced, never rewritten
            except OSError:  # gone since (nobody watches it any more)
                return PlainTextResponse("no such frame", status_code=404)
            return Response(data, media_type=_sniff(data), headers={"Cache-Control": "no-store"})
        return FileResponse(path, headers={"Cache-Control": "no-store"})

    async def _screen(self, request: Request) -> Response:
        if not self._allowed(request):
            return PlainTextResponse("forbidden", status_code=403)
        _, frame = self.screen.newest() if self.screen is not None else (0, None)
        if frame is None or self.screen is None:
            return PlainTextResponse("no live frame", status_code=404)
        return Response(frame.image, media_type=self.screen.media_type(frame), headers={"Cache-Control": "no-store"})

    async def _control(self, request: Request) -> Response:
        if not self._allowed(request):
            return PlainTextResponse("forbidden", status_code=403)
        name = request.path_params["name"]
        body = await _json(request)
        try:
            await anyio.to_thread.run_sync(self._do, name, body)
        except ControlError as exc:
            return JSONResponse({"error": str(exc)}, status_code=409)
        return JSONResponse({"ok": True})

    def _do(self, name: str, body: dict[str, Any]) -> None:
        if name in ("approve", "deny") and self.controls is None and self.on_answer is not None:
            self.on_answer(name == "approve", body.get("note"))
            return
        c = self.controls
        if c is None:
            raise ControlError("this view only watches: the episode runs in another process")
        actions: dict[str, Callable[[], None]] = {
            "approve": lambda: c.answer(True, body.get("note")), "deny": lambda: c.answer(False, body.get("note")),
            "pause": lambda: c.pause(True), "resume": lambda: c.pause(False), "take-over": c.take_over,
            "hand-back": c.hand_back, "stop": c.stop,
        }
        if name not in actions:
            raise ControlError(f"no control {name!r}: {', '.join(actions)}")
        actions[name]()

    async def _act(self, request: Request) -> Response:
        if not self._allowed(request):
            return PlainTextResponse("forbidden", status_code=403)
        if self.controls is None:
            return JSONResponse({"error": "this view only watches: the episode runs in another process"}, status_code=409)
        body = await _json(request)
        try:
            record = await anyio.to_thread.run_sync(self.controls.act, body)
        except ControlError as exc:
            return JSONResponse({"error": str(exc)}, status_code=409)
        return JSONResponse({"step": record.index, "results": [r.model_dump(mode="json") for r in record.results]})


class _Waker:
    """Wakes one event stream (on its event loop) when a live frame comes (on the env's thread): once per wait."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop, self.event, self.armed = loop, asyncio.Event(), True

    def __call__(self) -> None:
        if self.armed:
            self.armed = False
            self.loop.call_soon_threadsafe(self.event.set)

    async def wait(self, timeout: float) -> None:
        """Until a frame came (or had come since the last wait) or ``timeout`` passed: the folder's next look."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.event.wait(), timeout)
        self.event.clear()
        self.armed = True


def _sniff(data: bytes) -> str:
    """The media type of a frame's bytes (the live frame's file name does not say)."""
    if data.startswith(b"\x89PNG"):
        return "image/png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return "image/jpeg"


async def _json(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}

