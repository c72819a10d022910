"""Qwen2.5-VL through any OpenAI-compatible ``/v1/chat/completions`` server (vLLM first)."""

from __future__ import annotations

import json
import logging
import os
import time
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from guiagent.policies.answer import actions_from_answer, mapping_for
from guiagent.policies.base import Decision, DecisionContext, PolicyError, StepSummary
from guiagent.policies.chat_client import ChatClient
from guiagent.policies.dialect import Dialect
from guiagent.policies.families import DEFAULT_FAMILY, FAMILIES, ModelFamily, get_family
from guiagent.policies.families.history import shown_steps
from guiagent.policies.media import Clip, Encoder, VideoConfig, build_clip, clip_frame_size
from guiagent.policies.prompt_outline import outline
from guiagent.policies.prompts import clock
from guiagent.tools import CoordinateOutOfRange, Observation, ScreenMapping
from guiagent.tools.actions import EnvKind
from guiagent.tools.parsing import ParseError, Protocol

log = logging.getLogger(__name__)

MAX_ANSWER_CHARS = 1_000_000
MAX_SERVED_TOKENS = 10_000_000
"""The largest token count read from a server's usage (far above any model's context)."""


def _answer_text(content: Any) -> str:
    """The answer's text: a string as is, the text parts of a list of content parts joined, anything
    else as JSON (so it is recorded and read as a format error, not a crash)."""
    if content is None or isinstance(content, str):
        return content or ""
    if isinstance(content, list) and all(isinstance(p, dict) and isinstance(p.get("text"), str) for p in content):
        return "".join(p["text"] for p in content)
    return json.dumps(content, ensure_ascii=False, default=str)[:MAX_ANSWER_CHARS]


class VLMConfig(BaseModel):
    """The model, the server and how the prompt is built. Recorded in meta.json."""

    model_config = ConfigDict(extra="forbid")

    base_url: str = Field(default="http://127.0.0.1:8000/v1", description="The server's OpenAI-compatible root.")
    model: str = "Qwen/Qwen2.5-VL-7B-Instruct"
    family: str = Field(default=DEFAULT_FAMILY, description="The model family profile (policies/families/).")
    api_key_env: str = Field(default="GUIAGENT_API_KEY", description="Environment variable holding the API key.")
    protocol: Protocol = "tool-call"
    constrained: bool = Field(default=False, description="Force well-formed answers with vLLM structured outputs.")
    constrained_actions: list[str] | None = Field(default=None, description="Actions the constraint allows (all if unset).")
    constrained_regex: str | None = Field(
        default=None, description="With constrained: a structured-output regex of your own instead of the derived one.")
    env: EnvKind = Field(default="desktop", description="The env kind driven (set by the runner): a browser's tool also offers navigate and back.")
    temperature: float = 0.0
    top_p: float | None = None
    max_tokens: int = Field(default=512, ge=1)
    seed: int | None = None
    min_pixels: int | None = Field(default=None, description="The resize's min pixels (the family's default if unset).")
    max_pixels: int | None = Field(default=None, description="The resize's max pixels (the family's default if unset).")
    video: VideoConfig = Field(default_factory=VideoConfig)
    max_context: int | None = Field(default=None, description="The server's max_model_len; asked from /v1/models if unset.")
    history_steps: int = Field(default=30, ge=0, description="Earlier steps kept as text.")
    connect_timeout_s: float = 10.0
    request_timeout_s: float = Field(default=180.0, gt=0, description=(
        "The whole of one request to the server, its retries included: a server that hangs or drips is given up "
        "after it (policies/chat_client.py)."))
    max_retries: int = Field(default=3, ge=0, description="Retries with backoff on connection errors, 408/409/429 and 5xx.")

    @field_validator("family")
    @classmethod
    def _known_family(cls, v: str) -> str:
        if v not in FAMILIES:
            raise ValueError(f"unknown model family {v!r} (one of {', '.join(FAMILIES)})")
        return v

    @model_validator(mode="after")
    def _protocol_of_family(self) -> VLMConfig:
        Dialect(self.profile, self.protocol, self.env)  # a protocol the family does not answer in: its ValueError
        return self

    @property
    def profile(self) -> ModelFamily:
        return get_family(self.family)

    @property
    def dialect(self) -> Dialect:
        """The model's dialect in the episode these settings are for (family, protocol, env, vocabulary)."""
        return Dialect(self.profile, self.protocol, self.env)


class ModelRequest(BaseModel):
    """One step's request to the server, before it is sent."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    messages: list[dict[str, Any]]
    extra_body: dict[str, Any]
    stop: list[str] | None
    mapping: ScreenMapping
    predicted: dict[str, int]
    clip: Clip | None = None
    text_bytes: int = 0


class VLMPolicy:
    """Decides with Qwen2.5-VL: current screen as an image, the recent past as an absolute-time video."""

    kind = "vlm"

    def __init__(self, config: VLMConfig, transport: httpx.BaseTransport | None = None) -> None:
        """``transport``: the HTTP transport to the server (a proxy, mTLS), else httpx's own."""
        self.config = config
        self._transport = transport
        self.dialect = config.dialect  # bound once: every prompt, parse and constraint of this policy speaks it
        self.encoder = Encoder(screens=config.profile.history_images + 1)
        self._http: ChatClient | None = None  # one connection pool and TLS context for the policy's life
        self._context_len: int | None = config.max_context
        # Text bytes per token, for fitting the context: counted once by the server's /tokenize where
        # it has one (vLLM), a low guess otherwise; then measured again from each answer's usage.
        self._bytes_per_token: float | None = None
        self._text_tokens: dict[str, int] = {}  # a family's in-clip texts (Qwen3-VL timestamps), counted once

    def settings(self) -> dict[str, Any]:
        return {"kind": self.kind, **self.config.model_dump()}

    # -- server ----------------------------------------------------------------------------

    def _client(self) -> ChatClient:
        if self._http is None:
            cfg = self.config
            self._http = ChatClient(cfg.base_url, cfg.model, os.environ.get(cfg.api_key_env, "EMPTY"), cfg.api_key_env,
                                    cfg.request_timeout_s, cfg.connect_timeout_s, cfg.max_retries,
                                    transport=self._transport)
        return self._http

    def close(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None

    def served_models(self) -> list[dict[str, Any]]:
        """The models the server serves (with vLLM's ``max_model_len``)."""
        return self._client().models()

    def _context_length(self) -> int | None:
        if self._context_len is None:
            for m in self.served_models():
                if m.get("id") == self.config.model:
                    self._context_len = m.get("max_model_len")
                    break
            else:
                raise PolicyError(
                    f"model {self.config.model!r} is not served at {self.config.base_url} "
                    f"(served: {', '.join(m.get('id', '?') for m in self.served_models()) or 'none'})"
                )
        return self._context_len

    # -- deciding --------------------------------------------------------------------------

    def decide(self, context: DecisionContext) -> Decision:
        cfg = self.config
        request = self.build_request(context)
        raw, served, latency = self.complete(request.messages, request.extra_body, request.stop)
        log.debug("step %d: %s answered in %.2fs: %r", context.step + 1, cfg.model, latency, raw[:200])
        usage = {**request.predicted, **served}
        if "prompt_tokens" in served:
            text_tokens = served["prompt_tokens"] - request.predicted["image_tokens"] - request.predicted["video_tokens"]
            if text_tokens > 0:
                self._bytes_per_token = 0.9 * request.text_bytes / text_tokens
        mapping = request.mapping
        prompt = outline(request.messages, request.clip, (mapping.resized_width, mapping.resized_height))
        decision = Decision(raw=raw, mapping=mapping, usage=usage, latency_s=latency, info={"prompt": prompt})
        try:
            answer = actions_from_answer(raw, mapping, self.dialect)
        except (ParseError, CoordinateOutOfRange) as exc:
            cut = f"the answer was cut at max_tokens ({cfg.max_tokens}): " if served.get("cut_at_max_tokens") else ""
            return decision.model_copy(update={"format_error": f"{cut}{exc}"})
        return decision.model_copy(update={"thought": answer.thought, "model_actions": answer.model_actions,
                                           "actions": answer.actions})

    def complete(
        self, messages: list[dict[str, Any]], extra_body: dict[str, Any] | None = None, stop: list[str] | None = None
    ) -> tuple[str, dict[str, int], float]:
        """One chat request: the answer's text, the server's token counts, the latency in seconds."""
        cfg = self.config
        sampling = {"top_p": cfg.top_p, "seed": cfg.seed, "stop": stop}
        body = {"model": cfg.model, "messages": messages, "max_tokens": cfg.max_tokens, "temperature": cfg.temperature,
                **{k: v for k, v in sampling.items() if v is not None}, **(extra_body or {})}
        t0 = time.perf_counter()
        answer = self._client().chat(body)
        choice = answer["choices"][0]
        message = choice.get("message") or {}
        usage = answer.get("usage") or {}
        # Counts a server made up (negative, or past any context length) are dropped where they enter:
        # they would otherwise reach the checkpoint, whose encoder takes 64-bit integers only.
        served = {k: usage[k] for k in ("prompt_tokens", "completion_tokens")
                  if isinstance(usage.get(k), int) and not isinstance(usage[k], bool) and 0 <= usage[k] <= MAX_SERVED_TOKENS}
        if choice.get("finish_reason") == "length":
            served["cut_at_max_tokens"] = 1
        return _answer_text(message.get("content")), served, time.perf_counter() - t0

    def build_request(self, context: DecisionContext) -> ModelRequest:
        """The chat request for this step, with the visual tokens it is predicted to cost."""
        cfg = self.config
        family = cfg.profile
        obs = context.observation
        try:
            mapping = mapping_for(obs, cfg.min_pixels, cfg.max_pixels, family)
        except ValueError as exc:
            raise PolicyError(f"cannot size the screenshot for the model: {exc}") from None
        context_len = self._context_length()
        history = context.history[-cfg.history_steps :] if cfg.history_steps else []
        system = self.dialect.system_prompt(mapping)
        task = family.task_text(context.task)
        clip = build_clip(context.recent_frames, obs.t, cfg.video, family.factor) if family.video != "none" else None
        past, past_tokens = self._past_screens(history, context.recent_frames)

        def messages_for(clip: Clip | None) -> tuple[list[dict[str, Any]], dict[str, Any]]:
            return self.dialect.messages(system, task, history, self._media(obs, mapping, clip), past)

        messages, extra = messages_for(clip)
        if context_len is not None:
            if self._bytes_per_token is None:
                self._bytes_per_token = self._measure_bytes_per_token(messages)
            fitted = self._fit(clip, mapping, context_len, _text_bytes(messages), past_tokens)
            if fitted is not clip:
                clip = fitted
                messages, extra = messages_for(clip)
        body: dict[str, Any] = {**family.request_extras, **{k: v for k, v in extra.items() if k != "stop"}}
        if clip is not None:
            # num_frames with fps: without it vLLM keeps its default 32 frames (the oldest), silently.
            body["media_io_kwargs"] = {"video": {"fps": clip.fps, "num_frames": len(clip.frames)}}
        if cfg.constrained:
            regex = cfg.constrained_regex or self.dialect.answer_regex(mapping, cfg.constrained_actions)
            body["structured_outputs"] = {"regex": regex}
        predicted = {
            "image_tokens": family.image_tokens(mapping) + past_tokens,
            "video_tokens": self._clip_tokens(clip) if clip else 0,
            "video_frames": len(clip.frames) if clip else 0,
        }
        return ModelRequest(messages=messages, extra_body=body, stop=extra.get("stop"), mapping=mapping,
                            predicted=predicted, clip=clip, text_bytes=_text_bytes(messages))

    def _media(self, obs, mapping: ScreenMapping, clip: Clip | None) -> list[dict[str, Any]]:
        parts: list[dict[str, Any]] = []
        if clip is not None:
            intro = self.config.profile.clip_intro(clock(clip.t0), clock(clip.t_end), len(clip.frames), clip.fps)
            parts.append({"type": "text", "text": intro})
            parts.append({"type": "video_url", "video_url": {"url": self.encoder.video_url(clip)}})
        parts.append({"type": "text", "text": f"\nThe screen now ({clock(obs.t)}):\n"})
        family = self.config.profile
        clip_size = (clip_frame_size(obs.geometry.height, obs.geometry.width, self.config.video, family.factor)
                     if family.video != "none" else None)
        url = self.encoder.image_url(obs, mapping.resized_width, mapping.resized_height, clip_size)
        parts.append({"type": "image_url", "image_url": {"url": url}})
        return parts

    def _clip_tokens(self, clip: Clip) -> int:
        """The tokens the clip's placeholder expands to on the server: its visual tokens, and the tokens of
        the text the family's processor writes inside it (counted by the server's tokenizer, once each)."""
        family = self.config.profile
        tokens = family.video_tokens(len(clip.frames), clip.height, clip.width)
        for text in family.video_texts(len(clip.frames), clip.fps):
            if text not in self._text_tokens:
                count = self._client().tokenize(
                    {"model": self.config.model, "prompt": text, "add_special_tokens": False}, self.config.connect_timeout_s)
                # no /tokenize (not vLLM): a byte-level BPE's worst case for digits and punctuation
                self._text_tokens[text] = count if count > 0 else len(text.encode())
            tokens += self._text_tokens[text]
        return tokens

    def _measure_bytes_per_token(self, messages: list[dict[str, Any]]) -> float:
        text_only = [
            {**m, "content": m["content"] if isinstance(m["content"], str) else [p for p in m["content"] if p["type"] == "text"]}
            for m in messages
        ]
        count = self._client().tokenize({"model": self.config.model, "messages": text_only}, self.config.connect_timeout_s)
        # not vLLM (no count): keep a guess that errs on the safe side
        return 0.9 * _text_bytes(messages) / count if count > 0 else 2.0

    def _past_screens(self, history: list[StepSummary], frames: list[Observation]) -> tuple[dict[int, dict[str, Any]], int]:
        """The earlier screenshots the family's trained prompt shows (by position in ``history``; those still
        in the frame buffer), as image parts, and their visual tokens."""
        family, cfg = self.config.profile, self.config
        shown = shown_steps(len(history), family.history_images, family.history_image_block)
        if not shown:
            return {}, 0
        by_time = {o.t: o for o in frames}
        past: dict[int, dict[str, Any]] = {}
        tokens = 0
        for i in shown:
            obs = by_time.get(history[i].t)
            if obs is None:
                continue
            try:
                m = family.mapping(obs.geometry, cfg.min_pixels, cfg.max_pixels)
            except ValueError:
                continue  # the current screenshot's own sizing says what is wrong
            past[i] = {"type": "image_url", "image_url": {"url": self.encoder.image_url(obs, m.resized_width, m.resized_height)}}
            tokens += family.image_tokens(m)
        return past, tokens

    def _fit(self, clip: Clip | None, mapping: ScreenMapping, context_len: int, text_bytes: int,
             past_tokens: int = 0) -> Clip | None:
        """Trim the clip (oldest frames first) so the request fits the context, or refuse."""
        budget = context_len - self.config.max_tokens - int(text_bytes / (self._bytes_per_token or 2.0))
        family = self.config.profile
        image = family.image_tokens(mapping) + past_tokens
        if image > budget:
            what = "the screenshot alone needs" if not past_tokens else "the screenshots (this step's and earlier ones) need"
            raise PolicyError(
                f"{what} {image} visual tokens but only {max(budget, 0)} fit the "
                f"{context_len}-token context: lower --max-pixels or raise the server's --max-model-len"
            )
        while clip is not None and image + self._clip_tokens(clip) > budget:
            frames = clip.frames[2:]
            clip = clip.model_copy(update={"frames": frames, "t0": clip.t0 + 2 / clip.fps}) if len(frames) >= 2 else None
        return clip


def _text_bytes(messages: list[dict[str, Any]]) -> int:
    total = 0
    for m in messages:
        content = m["content"]
        parts = [content] if isinstance(content, str) else [p.get("text", "") for p in content if p["type"] == "text"]
        total += sum(len(p.encode()) for p in parts) + 16  # role markers
    return total
