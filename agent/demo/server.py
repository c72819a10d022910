"""The bundled demo site: a few pages served on 127.0.0.1, with their state on the server.

``layout="moved"`` (or ``?layout=moved`` on any page, kept in a cookie) serves the same pages with their
controls moved and restyled (site/moved.css), to test scripts that must survive a changed page.

State is kept server-side (and in a JSON file when one is given) so that the task's success check
reads the site's own state, and a resumed episode finds the site as the killed run left it.
"""

from __future__ import annotations

import json
import threading
from http import HTTPStatus
from http.cookies import SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from guiagent.tools.files import write_atomic

PAGES = {"/login", "/list", "/settings", "/terms", "/help", "/board", "/summary"}
NEEDS_LOGIN = PAGES - {"/login"}
LAYOUTS = ("default", "moved")
# The moved layout moves and restyles these pages (site/moved.css); help and summary keep theirs.
MOVED_PAGES = {"/login", "/list", "/settings", "/terms", "/board"}
CONTENT_TYPES = {".html": "text/html; charset=utf-8", ".css": "text/css", ".js": "application/javascript"}


def initial_state() -> dict[str, Any]:
    return {
        "logged_in": False,
        "items": ["Buy bread", "Call Alice", "Old task"],
        "draft": "",
        "settings": {"notifications": False, "theme": "Light"},
        "terms_accepted": False,
        "help_confirmed": False,
        "card_column": "todo",
    }


def goals(state: dict[str, Any]) -> dict[str, bool]:
    """The demo task's goals, read from the site's state."""
    return {
        "signed in": state["logged_in"],
        "'Old task' removed": "Old task" not in state["items"],
        "'Buy milk' added": "Buy milk" in state["items"],
        "notifications on": state["settings"]["notifications"] is True,
        "Dark theme": state["settings"]["theme"] == "Dark",
        "terms accepted": state["terms_accepted"],
        "help confirmed": state["help_confirmed"],
        "'Ship release' done": state["card_column"] == "done",
    }


class DemoState:
    """The site's state, guarded by a lock and saved atomically to ``path`` after each change."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self.lock = threading.Lock()
        self.data = initial_state()
        if path is not None and path.exists():
            self.data.update(json.loads(path.read_text()))

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            g = goals(self.data)
            return {**json.loads(json.dumps(self.data)), "goals": g, "complete": all(g.values())}

    def update(self, fn) -> dict[str, Any]:
        with self.lock:
            fn(self.data)
            if self.path is not None:
                write_atomic(self.path, json.dumps(self.data))
        return self.snapshot()


class _Handler(BaseHTTPRequestHandler):
    server: DemoServer  # pyright: ignore[reportIncompatibleVariableOverride]  (the server this handler is made for)

    def log_message(self, format: str, *args: Any) -> None:  # quiet: the runtime prints its own progress
        pass

    def _send(self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def _json(self, data: Any, status: int = 200) -> None:
        self._send(status, json.dumps(data).encode(), "application/json")

    def _layout(self, query: dict[str, list[str]]) -> tuple[str, dict[str, str]]:
        """The layout for this request (``?layout=`` sticks in a cookie), and the header that keeps it."""
        asked = query.get("layout", [None])[0]
        if asked in LAYOUTS:
            return asked, {"Set-Cookie": f"layout={asked}; Path=/; SameSite=Lax"}
        cookie = SimpleCookie(self.headers.get("Cookie") or "")
        chosen = cookie["layout"].value if "layout" in cookie and cookie["layout"].value in LAYOUTS else None
        return chosen or self.server.layout, {}

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        path, _, query_text = self.path.partition("?")
        layout, keep = self._layout(parse_qs(query_text))
        state = self.server.state
        if path == "/":
            return self._send(302, b"", "text/plain", {"Location": "/login", **keep})
        if path == "/api/state":
            return self._json(state.snapshot())
        if path in NEEDS_LOGIN and not state.data["logged_in"]:
            return self._send(302, b"", "text/plain", {"Location": "/login", **keep})
        name = path.removeprefix("/static/") if path.startswith("/static/") else path.lstrip("/") + ".html"
        if path in PAGES or path.startswith("/static/"):
            resource = resources.files("guiagent.agent.demo").joinpath("site", name)
            if resource.is_file():
                body = resource.read_bytes()
                if layout == "moved" and path in MOVED_PAGES:
                    body = body.replace(b"</head>", b'<link rel="stylesheet" href="/static/moved.css"></head>', 1)
                return self._send(200, body, CONTENT_TYPES.get(Path(name).suffix, "application/octet-stream"), keep)
        self._send(404, b"not found", "text/plain")

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("Content-Length") or 0)
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except json.JSONDecodeError:
            return self._json({"error": "body is not JSON"}, 400)
        state = self.server.state
        path = self.path
        if path == "/api/login":
            if body.get("user") == "demo" and body.get("password") == "demo":
                state.update(lambda d: d.update(logged_in=True))
                return self._json({"ok": True})
            return self._json({"ok": False, "error": "Wrong user name or password."})
        if path == "/api/reset":
            return self._json(state.update(lambda d: (d.clear(), d.update(initial_state()))))
        if not state.data["logged_in"]:
            return self._json({"error": "not signed in"}, 403)
        handlers = {
            "/api/items": lambda d: d["items"].append(str(body.get("text", ""))[:200]),
            "/api/items/delete": lambda d: d["items"].pop(int(body["index"])) if 0 <= int(body.get("index", -1)) < len(d["items"]) else None,
            "/api/draft": lambda d: d.update(draft=str(body.get("text", ""))[:200]),
            "/api/settings": lambda d: d["settings"].update(
                notifications=bool(body.get("notifications")), theme=str(body.get("theme", "Light"))),
            "/api/terms": lambda d: d.update(terms_accepted=bool(body.get("accepted"))),
            "/api/help": lambda d: d.update(help_confirmed=bool(body.get("confirmed"))),
            "/api/board": lambda d: d.update(card_column="done" if body.get("column") == "done" else "todo"),
        }
        if path not in handlers:
            return self._json({"error": f"no such endpoint {path}"}, HTTPStatus.NOT_FOUND)
        self._json(state.update(handlers[path]))


class DemoServer(ThreadingHTTPServer):
    """The demo site on 127.0.0.1. Use as a context manager, or call ``start``/``stop``."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, port: int = 0, state_path: Path | None = None, layout: str = "default") -> None:
        if layout not in LAYOUTS:
            raise ValueError(f"layout must be one of {', '.join(LAYOUTS)}, got {layout!r}")
        super().__init__(("127.0.0.1", port), _Handler)
        self.state = DemoState(state_path)
        self.layout = layout
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def start(self) -> DemoServer:
        self._thread = threading.Thread(target=self.serve_forever, name="demo-site", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self.shutdown()
            self._thread = None
        self.server_close()

    def __enter__(self) -> DemoServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
