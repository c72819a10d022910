"""An OpenAI-compatible model server over one HTTP connection pool: models, chat completions, vLLM's tokenize.

Plain httpx, with the openai SDK's retry rule and every failure turned into one PolicyError sentence.
Not the SDK itself: importing it costs about a second of CPU per process, and ``chat.completions.create``
walks every message part through its type transforms, tens of ms per step with a long history.

What a misbehaving server gets (tests/policies/test_server_faults.py runs each against a fake server):
- One call (``models``, ``chat``) ends within ``request_timeout_s`` in all, every attempt and every wait
  between attempts included: a server that accepts and never answers, or drips its answer, is given
  up at that deadline (each read waits at most the time left; the time is checked after each chunk of
  the body; the loop's ``decide_timeout_s`` bounds the rest, e.g. headers dripped a byte at a time).
- Retried, ``max_retries`` times at most and only while the deadline leaves room: connection errors
  (refused, reset, connect timeouts), 408/409/429 and 5xx answers, after 0.5 s doubling to 8 s
  (jittered), or after the server's Retry-After (seconds or an HTTP date) where it sends one; a wait
  past the deadline ends the call at once, saying so.
- An answer longer than ``max_response_bytes`` (by its Content-Length, or counted as it streams in) is
  dropped as soon as it passes the cap: never read whole into memory.
- Garbage where JSON belongs, a JSON answer without a choice: not retried.
Each of these is ``PolicyUnavailable`` (the server, not the task: outcome ``error``, resumable, and a batch
routes around the server); a request the server refuses as such (400, 401, 404) is a plain PolicyError.
"""

from __future__ import annotations

import email.utils
import json
import random
import time
from typing import Any

import httpx

from guiagent.policies.base import PolicyError, PolicyUnavailable

RETRY_STATUS = {408, 409, 429}
MAX_RESPONSE_BYTES = 16 * 2**20
"""The longest answer read (a chat answer of any max_tokens is far shorter)."""


class _Answer:
    """A whole answer: its status, headers and body (at most the cap)."""

    def __init__(self, status: int, headers: httpx.Headers, body: bytes, reason: str) -> None:
        self.status_code, self.headers, self.body, self.reason_phrase = status, headers, body, reason

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return json.loads(self.body)


class _Late(Exception):
    """The call's deadline passed while an answer was coming in."""


class _TooLong(Exception):
    """The answer passed the cap."""


class ChatClient:
    """One server's client for a policy's lifetime (one pool, one TLS context). ``transport`` replaces httpx's own
    (``httpx.HTTPTransport(proxy=..., verify=ssl_context)`` for a proxy or mTLS; ``httpx.MockTransport`` in a test)."""

    def __init__(self, base_url: str, model: str, api_key: str, api_key_env: str, request_timeout_s: float,
                 connect_timeout_s: float, max_retries: int, max_response_bytes: int = MAX_RESPONSE_BYTES,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.base_url, self.model, self.api_key_env = base_url.rstrip("/"), model, api_key_env
        self.request_timeout_s, self.max_retries = request_timeout_s, max_retries
        self.connect_timeout_s, self.max_response_bytes = connect_timeout_s, max_response_bytes
        self._http = httpx.Client(
            # identity: what is counted against the cap is what is held (no gzip expanding past it)
            headers={"Authorization": f"Bearer {api_key}", "Accept-Encoding": "identity"},
            timeout=httpx.Timeout(request_timeout_s, connect=connect_timeout_s),
            transport=transport,
        )

    def models(self) -> list[dict[str, Any]]:
        """The served models, as the server lists them (vLLM adds ``max_model_len``)."""
        data = self._request("GET", f"{self.base_url}/models").get("data")
        return [m for m in data if isinstance(m, dict)] if isinstance(data, list) else []

    def chat(self, body: dict[str, Any]) -> dict[str, Any]:
        """One ``/chat/completions`` answer, as the server sent it."""
        answer = self._request("POST", f"{self.base_url}/chat/completions", json=body)
        choices = answer.get("choices")
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            raise PolicyUnavailable(f"the model server at {self.base_url} answered without a choice: {str(answer)[:200]}")
        return answer

    def tokenize(self, body: dict[str, Any], timeout_s: float) -> int:
        """vLLM's token count of a prompt; 0 where the server has no ``/tokenize`` (or answers it badly)."""
        root = self.base_url.removesuffix("/v1")
        try:
            r = self._send("POST", f"{root}/tokenize", time.monotonic() + timeout_s, json=body)
            return int(r.json().get("count", 0)) if r.status_code == 200 else 0
        except (httpx.HTTPError, ValueError, AttributeError, TypeError, _Late, _TooLong):
            return 0

    def close(self) -> None:
        self._http.close()

    def _send(self, method: str, url: str, deadline: float, **kwargs: Any) -> _Answer:
        """One attempt, its body streamed in up to the cap and the deadline."""
        left = deadline - time.monotonic()
        if left <= 0:
            raise _Late()
        timeout = httpx.Timeout(left, connect=min(self.connect_timeout_s, left))
        with self._http.stream(method, url, timeout=timeout, **kwargs) as r:
            length = r.headers.get("content-length", "")
            if length.isdigit() and int(length) > self.max_response_bytes:
                raise _TooLong()
            chunks, size = [], 0
            for chunk in r.iter_bytes():
                size += len(chunk)
                if size > self.max_response_bytes:
                    raise _TooLong()
                if time.monotonic() > deadline:
                    raise _Late()
                chunks.append(chunk)
            return _Answer(r.status_code, r.headers, b"".join(chunks), r.reason_phrase)

    def _request(self, method: str, url: str, **kwargs: Any) -> dict[str, Any]:
        where, budget = self.base_url, self.request_timeout_s
        deadline = time.monotonic() + budget
        for attempt in range(self.max_retries + 1):
            last = attempt == self.max_retries
            r: _Answer | None = None
            try:
                r = self._send(method, url, deadline, **kwargs)
            except httpx.ConnectTimeout:
                if last:
                    raise PolicyUnavailable(f"cannot reach the model server at {where} (is it running?)") from None
            except (httpx.TimeoutException, _Late):
                raise PolicyUnavailable(f"the model server at {where} did not answer within {budget:g}s") from None
            except _TooLong:
                raise PolicyUnavailable(f"the model server at {where} sent an answer longer than "
                                        f"{self.max_response_bytes / 2**20:g} MB; it was dropped unread") from None
            except httpx.TransportError:
                if last:
                    raise PolicyUnavailable(f"cannot reach the model server at {where} (is it running?)") from None
            else:
                if r.status_code < 300:
                    return _json_object(r, where)
                if last or not (r.status_code in RETRY_STATUS or r.status_code >= 500):
                    raise self._status_error(r)
            after = _retry_after(r) if r is not None else None
            wait = after if after is not None else _backoff(attempt)
            if time.monotonic() + wait >= deadline:  # no room left for another attempt
                if r is None:
                    raise PolicyUnavailable(f"cannot reach the model server at {where} (is it running?)")
                if after is not None:
                    raise PolicyUnavailable(f"the model server at {where} is busy ({r.status_code}) and asked to be "
                                            f"retried after {after:g}s, past this request's {budget:g}s")
                raise self._status_error(r)
            time.sleep(wait)
        raise AssertionError("unreachable")

    def _status_error(self, r: _Answer) -> PolicyError:
        detail, where = _detail(r), self.base_url
        if r.status_code == 404:
            return PolicyError(f"model {self.model!r} is not served at {where}: {detail}")
        if r.status_code == 401:
            return PolicyError(f"the model server at {where} refused the API key (set ${self.api_key_env})")
        if r.status_code == 400:
            lowered = detail.lower()
            if "context length" in lowered or "maximum context" in lowered or "too long" in lowered:
                return PolicyError(f"the request is longer than the model's context: {detail}")
            if "at most" in lowered and ("image" in lowered or "video" in lowered):
                return PolicyError(f"the server refuses this many images/videos per prompt: {detail} "
                                   "(start vLLM with --limit-mm-per-prompt '{\"image\": 2, \"video\": 1}')")
            return PolicyError(f"the model server rejected the request: {detail}")
        if r.status_code in RETRY_STATUS:  # busy or rate-limited: the server's state, not the task
            return PolicyUnavailable(f"the model server at {where} is busy ({r.status_code}): {detail}")
        if r.status_code >= 500:  # the server is failing, not the request: resumable (outcome error)
            return PolicyUnavailable(f"the model server at {where} failed ({r.status_code}): {detail}")
        return PolicyError(f"the model server at {where} failed ({r.status_code}): {detail}")


def _json_object(r: _Answer, where: str) -> dict[str, Any]:
    try:
        answer = r.json()
    except (ValueError, RecursionError):
        raise PolicyUnavailable(f"the model server at {where} sent something other than JSON: {r.text[:200]!r}") from None
    if not isinstance(answer, dict):
        raise PolicyUnavailable(f"the model server at {where} sent JSON that is not an object: {r.text[:200]!r}")
    return answer


def _retry_after(r: _Answer) -> float | None:
    """The server's Retry-After in seconds (a number or an HTTP date), if it sent one that reads."""
    value = r.headers.get("retry-after", "").strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _backoff(attempt: int) -> float:
    """Seconds before retry ``attempt + 1`` where the server said nothing: 0.5 s doubling to 8 s, jittered."""
    return min(0.5 * 2**attempt, 8.0) * (1 - 0.25 * random.random())


def _detail(r: _Answer) -> str:
    """The error message in an error body (OpenAI's ``{"error": {"message"}}`` or vLLM's ``{"message"}``)."""
    try:
        body = r.json()
    except (ValueError, RecursionError):
        return r.text[:500] or r.reason_phrase
    if isinstance(body, dict):
        error = body.get("error")
        message = error.get("message") if isinstance(error, dict) else body.get("message") or error
        if message:
            return str(message)[:500]
    return str(body)[:500]
