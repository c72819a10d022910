"""A judge: a second OpenAI-compatible model that says whether an episode did its task, for tasks no rule can check.

It is shown the instruction, the final answer (what the policy declared, if anything) and the last K frames
(``JudgeConfig.frames``, default 3: the frames of the last steps and the screen the episode ended on), and answers
one JSON object, constrained by vLLM structured outputs to ``{"reasons": "...", "verdict": "success"|"failure"}``
(the reasons first, so that a model reasons before it decides).

The prompt follows the WebVoyager evaluator as Online-Mind2Web runs it (OSU-NLP-Group/Online-Mind2Web,
``src/methods/webvoyager_eval.py``, function ``WebVoyager_eval``): the task, the agent's result response and the last
screenshots; the screenshots prevail where the response contradicts them, and a task with several parts fails if
any part is missing. It is written here in our own words, for any GUI (not only the web), and asks for the JSON
verdict instead of free text that ends in SUCCESS or FAILURE.
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
from typing import Any, Literal

import httpx
from PIL import Image
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from guiagent.policies.base import PolicyError
from guiagent.policies.chat_client import ChatClient
from guiagent.tools.geometry import smart_resize

SYSTEM_PROMPT = """You evaluate whether an agent operating a computer (a web browser or a desktop application) has \
completed a task. You are given:
1. The task: the instruction the agent was given, in natural language.
2. The final answer: what the agent said when it finished, or nothing if it gave no answer.
3. Screenshots: the last screens of the episode, in time order; the last one is the screen the episode ended on.

Rules:
- Judge from what the screenshots show. Do not assume anything they do not show.
- The screenshots are authentic; the final answer was written by the agent and may be wrong. Where the answer \
contradicts the screenshots, the screenshots prevail. Where the answer states something the screenshots cannot \
show, you may believe it.
- A task with several parts succeeds only if every part is done.
- You do not act on the computer; you only judge.

Answer with one JSON object: {"reasons": "<how you reached the verdict>", "verdict": "success" or "failure"}."""

USER_PROMPT = """Task: {task}

Final answer: {answer}

The last {count} screenshot(s) of the episode follow, oldest first."""

VERDICT_PROMPT = "Your verdict, as the JSON object:"


class JudgeConfig(BaseModel):
    """The judge's server, model and what it is shown. Stored in the run spec, so a resume keeps it."""

    model_config = ConfigDict(extra="forbid")

    base_url: str = Field(description="The judge server's OpenAI-compatible root.")
    model: str = Field(min_length=1, description="The judge's served model name.")
    frames: int = Field(default=3, ge=1, le=16, description="K: the last frames shown (the final screen included).")
    max_pixels: int = Field(default=1280 * 28 * 28, ge=4 * 28 * 28, description="Each frame is resized to fit this many pixels.")
    reasons_chars: int = Field(default=400, ge=1, le=4000, description="The reasons' length limit in the constrained form.")
    max_tokens: int = Field(default=512, ge=16)
    constrained: bool = Field(default=True, description="Force the JSON form with vLLM structured outputs (a regex).")
    api_key_env: str = Field(default="GUIAGENT_JUDGE_API_KEY", description="Environment variable holding the API key.")
    connect_timeout_s: float = 10.0
    request_timeout_s: float = 180.0
    max_retries: int = Field(default=2, ge=0, description="Retries with backoff on connection errors and 5xx.")


class JudgeAnswer(BaseModel):
    """The judge's verdict, as it answered it."""

    model_config = ConfigDict(extra="forbid")

    reasons: str
    verdict: Literal["success", "failure"]

    @property
    def passed(self) -> bool:
        return self.verdict == "success"


class JudgeError(PolicyError):
    """The judge answered, but not a verdict in the form asked for."""


def answer_regex(reasons_chars: int) -> str:
    """The constrained form: json.dumps's spacing (the server disables free whitespace), reasons without a quote or
    a backslash (so every match parses), at most ``reasons_chars`` long."""
    return rf'\{{"reasons": "[^"\\]{{1,{reasons_chars}}}", "verdict": "(?:success|failure)"\}}'


def parse_answer(text: str) -> JudgeAnswer:
    """The verdict in the judge's text: the JSON object (the first one, where a model unconstrained wraps it in
    words or a code fence). Raises JudgeError naming what was wrong."""
    start = text.find("{")
    if start < 0:
        raise JudgeError(f"the judge's answer has no JSON object: {text[:200]!r}")
    try:
        loaded, _ = json.JSONDecoder(strict=False).raw_decode(text[start:])  # a raw line break in the reasons
    except json.JSONDecodeError as exc:
        raise JudgeError(f"the judge's answer is not valid JSON ({exc.msg}): {text[:200]!r}") from None
    try:
        return JudgeAnswer.model_validate(loaded)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise JudgeError(f"the judge's answer is not a verdict ({where + ': ' if where else ''}{first['msg']}): "
                         f"{text[:200]!r}") from None


def frame_url(image: bytes, max_pixels: int) -> str:
    """A frame as a PNG data URL, resized (Qwen's smart_resize) to fit ``max_pixels``."""
    with Image.open(io.BytesIO(image)) as img:
        rgb = img.convert("RGB")
    height, width = smart_resize(rgb.height, rgb.width, max_pixels=max_pixels)
    if (width, height) != rgb.size:
        rgb = rgb.resize((width, height), Image.Resampling.BICUBIC, reducing_gap=2.0)
    buf = io.BytesIO()
    rgb.save(buf, "PNG", compress_level=1)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def judge_messages(instruction: str, answer: str | None, frames: list[bytes], max_pixels: int) -> list[dict[str, Any]]:
    """The judge's prompt: the system rules, then the task, the final answer and the frames (oldest first)."""
    text = USER_PROMPT.format(task=instruction, answer=answer if answer else "(none)", count=len(frames))
    images = [{"type": "image_url", "image_url": {"url": frame_url(f, max_pixels)}} for f in frames]
    return [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": [{"type": "text", "text": text}, *images, {"type": "text", "text": VERDICT_PROMPT}]},
    ]


def request_body(config: JudgeConfig, messages: list[dict[str, Any]]) -> dict[str, Any]:
    body: dict[str, Any] = {"model": config.model, "messages": messages, "temperature": 0.0,
                            "max_tokens": config.max_tokens}
    if config.constrained:
        body["structured_outputs"] = {"regex": answer_regex(config.reasons_chars)}
    return body


class Judge:
    """Asks the judge model for one episode's verdict (one request; the client's retries on a failing server)."""

    def __init__(self, config: JudgeConfig, transport: httpx.BaseTransport | None = None) -> None:
        """``transport``: the HTTP transport to the judge's server (a proxy, mTLS), else httpx's own."""
        self.config = config
        self._client = ChatClient(config.base_url, config.model, os.environ.get(config.api_key_env, "EMPTY"),
                                  config.api_key_env, config.request_timeout_s, config.connect_timeout_s,
                                  config.max_retries, transport=transport)

    def judge(self, instruction: str, answer: str | None, frames: list[bytes]) -> JudgeAnswer:
        """The verdict. Raises PolicyUnavailable (the server is down or failing), PolicyError (it refused the
        request) or JudgeError (it answered something other than a verdict)."""
        messages = judge_messages(instruction, answer, frames, self.config.max_pixels)
        reply = self._client.chat(request_body(self.config, messages))
        choice = reply["choices"][0]
        content = (choice.get("message") or {}).get("content")
        if not isinstance(content, str):
            raise JudgeError(f"the judge answered without text: {str(choice)[:200]}")
        if choice.get("finish_reason") == "length":
            raise JudgeError(f"the judge's answer was cut at max_tokens ({self.config.max_tokens}): {content[:200]!r}")
        return parse_answer(content)

    def close(self) -> None:
        self._client.close()


def regex_matches(text: str, reasons_chars: int) -> bool:
    """Whether ``text`` is in the constrained form (what a test checks a constrained answer against)."""
    return re.fullmatch(answer_regex(reasons_chars), text) is not None
