"""An OpenAI-compatible model server over one HTTP connection pool: models, chat completions, vLLM's tokenize.

Plain httpx with the openai SDK's retry rule (connection errors, timeouts, 408/409/429 and 5xx, exponential
backoff with jitter, a short Retry-After honoured), and every failure turned into one PolicyError sentence.
Not the SDK itself: importing it costs about a second of CPU per process, and ``chat.completions.create``
walks every message part through its type transforms, tens of ms per step with a long history.
"""

from __future__ import annotations

import random
import time
from typing import Any

import httpx

from guiagent.policies.base import PolicyError, PolicyUnavailable

RETRY_STATUS = {408, 409, 429}


class ChatClient:
    """One server's client for a policy's lifetime (one pool, one TLS context)."""

    def __init__(self, base_url: str, model: str, api_key: str, api_key_env: str, request_timeout_s: float,
                 connect_timeout_s: float, max_retries: int) -> None:
        self.base_url, self.model, self.api_key_env = base_url.rstrip("/"), model, api_key_env
        self.request_timeout_s, self.max_retries = request_timeout_s, max_retries
        self._http = httpx.Client(
            headers={"Authorization": f"Bearer {api_key}"},
            timeout=httpx.Timeout(request_timeout_s, connect=connect_timeout_s),
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
            raise PolicyError(f"the model server at {self.base_url} answered without a choice: {str(answer)[:200]}")
        return answer

    def tokenize(self, body: dict[str, Any], timeout_s: float) -> int:
        """vLLM's token count of a prompt; 0 where the server has no ``/tokenize``."""
        root = self.base_url.removesuffix("/v1")
        try:
            r = self._http.post(f"{root}/tokenize", json=body, timeout=timeout_s)
            return int(r.json().get("count", 0)) if r.status_code == 200 else 0
        except (httpx.HTTPError, ValueError, AttributeError):
            return 0

    def close(self) -> None:
        self._http.close()

    def _request(self, method: str, url: str, **kwargs: Any) -> dict[str, Any]:
        for attempt in range(self.max_retries + 1):
            last = attempt == self.max_retries
            r: httpx.Response | None = None
            try:
                r = self._http.request(method, url, **kwargs)
            except httpx.TimeoutException:
                if last:
                    raise PolicyUnavailable(f"the model server at {self.base_url} did not answer within {self.request_timeout_s:g}s") from None
            except httpx.TransportError:
                if last:
                    raise PolicyUnavailable(f"cannot reach the model server at {self.base_url} (is it running?)") from None
            else:
                if r.status_code < 300:
                    try:
                        answer = r.json()
                    except ValueError:
                        raise PolicyError(f"the model server at {self.base_url} sent something other than JSON: {r.text[:200]!r}") from None
                    if not isinstance(answer, dict):
                        raise PolicyError(f"the model server at {self.base_url} sent JSON that is not an object: {r.text[:200]!r}")
                    return answer
                if last or not (r.status_code in RETRY_STATUS or r.status_code >= 500):
                    raise self._status_error(r)
            time.sleep(_backoff(attempt, r))
        raise AssertionError("unreachable")

    def _status_error(self, r: httpx.Response) -> PolicyError:
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
        if r.status_code >= 500:  # the server is failing, not the request: resumable (outcome error)
            return PolicyUnavailable(f"the model server at {where} failed ({r.status_code}): {detail}")
        return PolicyError(f"the model server at {where} failed ({r.status_code}): {detail}")


def _backoff(attempt: int, response: httpx.Response | None) -> float:
    """Seconds before retry ``attempt + 1``: the server's short Retry-After, else 0.5 s doubling to 8 s, jittered."""
    if response is not None:
        try:
            after = float(response.headers.get("retry-after", ""))
            if 0 < after <= 60:
                return after
        except ValueError:
            pass
    return min(0.5 * 2**attempt, 8.0) * (1 - 0.25 * random.random())


def _detail(r: httpx.Response) -> str:
    """The error message in an error body (OpenAI's ``{"error": {"message"}}`` or vLLM's ``{"message"}``)."""
    try:
        body = r.json()
    except ValueError:
        return r.text[:500] or r.reason_phrase
    if isinstance(body, dict):
        error = body.get("error")
        message = error.get("message") if isinstance(error, dict) else body.get("message") or error
        if message:
            return str(message)
    return str(body)[:500]
