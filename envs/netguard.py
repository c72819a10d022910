"""The URL policy at the network layer: a small forward proxy that every Chromium request goes through.

Why a proxy and not Playwright's ``context.route`` or CDP's ``Fetch`` domain: route misses service
workers and some redirects; ``Fetch`` needs a session on every target (pages, popups, iframes,
workers, service workers) and its handlers only run while Playwright's sync API is pumped, so a page
stalls while the model thinks. A proxy sees every request that leaves the browser, whoever made it
(tabs, popups, redirects, iframes, downloads, service workers, WebSockets, prefetches), runs in its own
thread, and resolves DNS itself: it connects to the very address it checked, so a name that resolves
into the private network (DNS rebinding) is refused too. Chromium is started with
``--proxy-server`` and ``--proxy-bypass-list=<-loopback>`` (loopback goes through it as well).

HTTPS is tunnelled (``CONNECT host:port``): the host is checked, the content is not read. Plain HTTP
requests are forwarded one per upstream connection (``Connection: close``), so a kept-alive client
connection can never carry a request to a second host. What never reaches the network (``file:``,
``data:``, ``javascript:``) is the env's to refuse before it navigates.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from guiagent.tools.urlpolicy import PolicyError, Target, UrlPolicy, Verdict, canonical_host

if TYPE_CHECKING:
    from playwright.sync_api import Response

HEAD_LIMIT = 64 * 1024
PIPE_CHUNK = 64 * 1024
CONNECT_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 30.0  # a bound on stop(): the connections' tasks are cancelled, so they end at once
log = logging.getLogger(__name__)
HOP_BY_HOP = {b"connection", b"proxy-connection", b"keep-alive", b"proxy-authorization", b"proxy-authenticate",
              b"te", b"trailer", b"upgrade"}


@dataclass(frozen=True)
class Blocked:
    """A request the policy refused: what it asked for and why."""

    url: str
    reason: str
    t: float

    def describe(self) -> str:
        return f"blocked by policy: {self.url} ({self.reason})"


class NetworkGuard:
    """``with NetworkGuard(policy) as guard:`` Chromium's ``--proxy-server`` is ``guard.proxy_url``.

    ``hosts`` maps names to addresses before DNS (for tests and offline sites, like /etc/hosts).
    """

    def __init__(self, policy: UrlPolicy, hosts: dict[str, str] | None = None) -> None:
        self.policy = policy
        self.hosts = {canonical_host(k)[0]: v for k, v in (hosts or {}).items()}
        self.blocked: deque[Blocked] = deque(maxlen=1000)
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.base_events.Server | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    @property
    def proxy_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def chromium_args(self) -> list[str]:
        return [
            f"--proxy-server={self.proxy_url}",
            "--proxy-bypass-list=<-loopback>",
            # WebRTC may otherwise send UDP around the proxy.
            "--force-webrtc-ip-handling-policy=disable_non_proxied_udp",
        ]

    def start(self) -> NetworkGuard:
        ready = threading.Event()

        def serve() -> None:
            asyncio.set_event_loop(self._loop)
            try:
                self._server = self._loop.run_until_complete(
                    asyncio.start_server(self._handle, "127.0.0.1", 0, limit=HEAD_LIMIT)
                )
                self.port = self._server.sockets[0].getsockname()[1]
                ready.set()
                self._loop.run_forever()
            finally:
                self._finish()

        self._thread = threading.Thread(target=serve, name="netguard", daemon=True)
        self._thread.start()
        ready.wait()
        return self

    def _finish(self) -> None:
        """On the guard's own thread, once its loop has stopped: close the server, cancel every connection's task and
        run them to their end (as asyncio.run does), so that no task is left to be destroyed pending."""
        loop = self._loop
        if self._server is not None:
            self._server.close()
        for _ in range(100):  # a connection accepted while closing starts one more task: until none is left
            tasks = asyncio.all_tasks(loop)
            if not tasks:
                break
            for task in tasks:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()

    def stop(self) -> None:
        """Stop serving; every connection's task ends on the guard's thread before this returns."""
        if self._thread is None:
            return
        if not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=STOP_TIMEOUT_S)
        if self._thread.is_alive():
            log.warning("the network guard's thread did not stop within %ss", STOP_TIMEOUT_S)
        self._thread = None

    def __enter__(self) -> NetworkGuard:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def drain(self) -> list[Blocked]:
        """Requests refused since the last call, oldest first."""
        out = []
        while self.blocked:
            out.append(self.blocked.popleft())
        return out

    # -- one client connection -----------------------------------------------------------

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream: asyncio.StreamWriter | None = None
        up_reader: asyncio.StreamReader | None = None
        try:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
                return
            request_line, _, header_block = head.partition(b"\r\n")
            parts = request_line.decode("latin-1").split(" ")
            if len(parts) != 3:
                await _reply(writer, 400, "bad request line")
                return
            method, target, version = parts
            if method == "CONNECT":
                host, port = _split_authority(target, 443)
                url = f"{target}"
                scheme = None
            else:
                split = urlsplit(target)
                if split.scheme not in ("http", "ws") or not split.hostname:
                    await _reply(writer, 400, "the proxy takes absolute http:// requests only")
                    return
                host, port = _split_authority(split.netloc.rpartition("@")[2], 80)
                url, scheme = target, split.scheme
            verdict, address, error = await self._admit(host, port, scheme)
            if not verdict:
                self.blocked.append(Blocked(url, verdict.reason, time.time()))
                await _reply(writer, 403, f"blocked by policy: {url} ({verdict.reason})", "Blocked", "policy")
                return
            if not error:
                try:
                    up_reader, upstream = await asyncio.wait_for(asyncio.open_connection(address, port), CONNECT_TIMEOUT_S)
                except TimeoutError:
                    error = "ERR_CONNECTION_TIMED_OUT"
                except ConnectionRefusedError:
                    error = "ERR_CONNECTION_REFUSED"
                except OSError:
                    error = "ERR_CONNECTION_FAILED"
            if error or upstream is None or up_reader is None:
                await _reply(writer, 502, f"{url}: net::{error}", "Error", error)
                return
            if method == "CONNECT":
                writer.write(b"HTTP/1.1 200 Connection Established\r\n\r\n")
                await writer.drain()
                await _pipe_both(reader, writer, up_reader, upstream)
                return
            split = urlsplit(target)
            path = (split.path or "/") + (f"?{split.query}" if split.query else "")
            upstream.write(f"{method} {path} {version}\r\n".encode("latin-1") + _headers(header_block) + b"\r\n")
            await _forward_response(reader, writer, up_reader, upstream)
        except (ConnectionError, asyncio.CancelledError, OSError):
            pass
        finally:
            for w in (upstream, writer):
                if w is not None:
                    w.close()

    async def _admit(self, host: str, port: int, scheme: str | None) -> tuple[Verdict, str, str]:
        """The policy's verdict on ``host:port``, the checked address to connect to, or a network error."""
        try:
            name, ip = canonical_host(host)
        except PolicyError as exc:
            return Verdict(False, str(exc)), "", ""
        if port == self.port and (ip is not None and ip.is_loopback or name == "localhost"):
            return Verdict(False, "that is the guard itself"), "", ""
        target = Target(scheme or "", name, port, ip)
        verdict = self.policy.check_target(target)
        if not verdict or ip is not None:
            return verdict, str(ip) if ip is not None else "", ""
        mapped = self.hosts.get(name)
        try:
            infos: list[str] = [mapped] if mapped else [
                str(i[4][0]) for i in await self._loop.getaddrinfo(name, port, type=socket.SOCK_STREAM)
            ]
        except OSError:
            return Verdict(True), "", "ERR_NAME_NOT_RESOLVED"
        for address in infos:
            _, resolved = canonical_host(f"[{address}]" if ":" in address else address)
            verdict = self.policy.check_resolved(target, resolved)  # type: ignore[arg-type]
            if not verdict:
                return verdict, "", ""
        return Verdict(True), infos[0], ""


def _split_authority(authority: str, default_port: int) -> tuple[str, int]:
    if authority.startswith("["):
        host, _, rest = authority.partition("]")
        host += "]"
        port_text = rest.removeprefix(":")
    else:
        host, _, port_text = authority.partition(":")
    return host, int(port_text) if port_text.isdigit() else default_port


def _headers(block: bytes) -> bytes:
    """The client's headers for the origin: hop-by-hop ones dropped, the connection closed after one answer."""
    out = []
    for line in block.split(b"\r\n"):
        if not line:
            continue
        name = line.split(b":", 1)[0].strip().lower()
        if name in HOP_BY_HOP:
            continue
        out.append(line)
    out.append(b"Connection: close")
    return b"".join(h + b"\r\n" for h in out)


async def _forward_response(reader, writer, up_reader, upstream) -> None:
    """Send the request body on, and the answer back with ``Connection: close`` (one request per connection)."""
    sending = asyncio.ensure_future(_pipe(reader, upstream, half_close=True))
    try:
        head = await up_reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
        sending.cancel()
        return
    status_line, _, block = head.partition(b"\r\n")
    writer.write(status_line + b"\r\n" + _headers(block) + b"\r\n")
    await _pipe(up_reader, writer, half_close=False)
    sending.cancel()


async def _pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter, half_close: bool) -> None:
    try:
        while data := await src.read(PIPE_CHUNK):
            dst.write(data)
            await dst.drain()
        if half_close and dst.can_write_eof():
            dst.write_eof()
    except (ConnectionError, OSError):
        pass


async def _pipe_both(reader, writer, up_reader, upstream) -> None:
    await asyncio.gather(_pipe(reader, upstream, True), _pipe(up_reader, writer, True))


async def _reply(writer: asyncio.StreamWriter, status: int, text: str, header: str = "Error", value: str = "") -> None:
    """An answer of the guard's own, marked ``X-Guiagent-Blocked`` or ``X-Guiagent-Error`` (net::ERR_... name)."""
    reason = {400: "Bad Request", 403: "Forbidden", 502: "Bad Gateway"}[status]
    body = (
        "<!doctype html><meta charset=utf-8><title>Blocked</title>"
        f"<body style='font:16px sans-serif;margin:2em'><h1>{reason}</h1><p>{_escape(text)}</p>"
    ).encode()
    writer.write(
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {len(body)}\r\n"
        f"X-Guiagent-{header}: {value or 'bad-request'}\r\nConnection: close\r\n\r\n".encode() + body
    )
    await writer.drain()


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def blocked_notes(blocked: list[str], limit: int = 5) -> list[str]:
    """What the model is told of refused requests: the first few, and how many more."""
    notes = blocked[:limit]
    if len(blocked) > limit:
        notes.append(f"and {len(blocked) - limit} more requests blocked by policy")
    return notes


def refusal(policy: UrlPolicy | None, url: str) -> str | None:
    """The sentence refusing a URL the env was asked to open (checked before it navigates), or None."""
    if policy is None or (verdict := policy.check_url(url)):
        return None
    return f"blocked by policy: {url} ({verdict.reason})"


def network_error(response: Response | None) -> str | None:
    """``net::ERR_...`` when the guard answered a navigation because it could not reach the host, as
    Chromium would have said it without a proxy."""
    value = response.headers.get("x-guiagent-error") if response is not None else None
    return f"net::{value}" if value else None
