"""The network guard on its own (no browser): a plain HTTP client through it, the attacker site behind it."""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest

from guiagent.envs.netguard import NetworkGuard
from guiagent.tools.urlpolicy import UrlPolicy
from tests.security.attacker import AttackerSite


def _get(guard: NetworkGuard, url: str) -> tuple[int, dict]:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({"http": guard.proxy_url}))
    try:
        with opener.open(url, timeout=10) as response:
            return response.status, dict(response.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers)


def test_a_name_that_resolves_into_the_private_network_is_refused() -> None:
    with AttackerSite() as site, NetworkGuard(UrlPolicy(), hosts={"rebind.test": "127.0.0.1"}) as guard:
        status, headers = _get(guard, f"http://rebind.test:{site.port}/")
        assert status == 403 and headers["X-Guiagent-Blocked"] == "policy"
        assert site.take_log() == []
        [blocked] = guard.drain()
        assert "resolves to the private address 127.0.0.1" in blocked.reason


def test_allowed_requests_pass_with_one_request_per_connection() -> None:
    policy = UrlPolicy(allow=["allowed.test"])
    with AttackerSite() as site, NetworkGuard(policy, hosts={"allowed.test": "127.0.0.1"}) as guard:
        status, _ = _get(guard, f"{site.allowed}/")
        assert status == 200
        assert site.take_log() == [(f"allowed.test:{site.port}", "GET", "/")]
        assert _get(guard, f"http://127.0.0.1:{guard.port}/")[0] == 403  # never itself
        assert _get(guard, f"http://allowed.test:{_free_port()}/")[1]["X-Guiagent-Error"] == "ERR_CONNECTION_REFUSED"


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("line", [b"GET /relative HTTP/1.1\r\n\r\n", b"garbage\r\n\r\n"])
def test_bad_requests_get_400(line: bytes) -> None:
    import socket

    with NetworkGuard(UrlPolicy()) as guard, socket.create_connection(("127.0.0.1", guard.port)) as sock:
        sock.sendall(line)
        assert sock.recv(100).startswith(b"HTTP/1.1 400")
