"""The model boundary, fuzzed through whole episodes on a real Chromium page.

The fake here is the model server, the boundary being fuzzed: an OpenAI-compatible server on
127.0.0.1 (bench/load_server.py's HTTP) that answers each request with the next raw text of a list,
escaped into JSON as a server sends it (a lone surrogate arrives as ``"\\udcc1"``). Everything else
is real: VLMPolicy parses and maps, the loop executes on Chromium, records, checkpoints in SQLite;
then the trajectory is read back, resumed, exported and rendered.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bench.load_server import LoadServer
from guiagent.agent.export.samples import ExportOptions, build_samples
from guiagent.agent.loop import Episode, LoopConfig
from guiagent.agent.report import render_html
from guiagent.agent.task import Task
from guiagent.agent.trajectory import TrajectoryMeta, TrajectoryWriter, load_trajectory
from guiagent.envs.browser import BrowserConfig, BrowserEnv
from guiagent.policies.media import VideoConfig
from guiagent.policies.vlm import VLMConfig, VLMPolicy
from guiagent.tools import Check, Terminate, Type, Wait
from guiagent.tools.parsing import ParseError, Protocol, format_function_call, format_tool_call, parse_answer
from guiagent.tools.text import recordable
from tests.tools.fuzzing import CRASHERS, mutated_answers

MODEL = "fuzz-model"


class FuzzModelServer(LoadServer):
    """A fake model server (the boundary under test): answers with the next text of ``answers``;
    keeps every request's messages."""

    def __init__(self) -> None:
        super().__init__(delay_s=0.0, model=MODEL)
        self.answers: list[str] = []
        self.prompts: list[list[dict[str, Any]]] = []

    def _answer(self, messages: list[dict[str, Any]], function_protocol: bool) -> str:
        self.prompts.append(messages)
        if self.answers:
            return self.answers.pop(0)
        done = Terminate(status="success")
        return format_function_call(done, "desktop", "qwen2.5-vl") if function_protocol else format_tool_call(done, "desktop", "qwen2.5-vl")


@pytest.fixture(scope="module")
def server():
    with FuzzModelServer() as s:
        yield s


@pytest.fixture(scope="module")
def chromium():
    env = BrowserEnv(BrowserConfig())
    yield env
    env.close()


def run_episodes(chromium, server, pages_url: str, root: Path, protocol: Protocol, answers: list[str],
                 page_js: str | None = None) -> list[Path]:
    """Episodes on pad.html (after ``page_js`` runs there) until every answer has been given (a
    terminate ends one, the next starts)."""
    server.answers = list(answers)
    server.prompts.clear()
    roots = []
    while True:
        out = root / f"episode-{len(roots)}"
        chromium.reset(pages_url + "/pad.html")
        if page_js:
            assert chromium.check(Check(js=page_js)).ok
        writer = TrajectoryWriter.create(out, TrajectoryMeta(task="fuzz"))
        policy = VLMPolicy(VLMConfig(base_url=server.base_url, model=MODEL, protocol=protocol, max_pixels=256 * 28 * 28,
                                     video=VideoConfig(history_seconds=0), max_retries=0))
        config = LoopConfig(max_steps=len(answers) + 1, max_format_errors=len(answers) + 1)
        episode = Episode(chromium, policy, Task(instruction="fuzz the model boundary"), writer, config)
        try:
            episode.run()
            assert episode.resume().steps == len(load_trajectory(out).steps)  # the checkpoint reads back
        finally:
            episode.close()
        roots.append(out)
        if not server.answers:
            return roots


def check_recorded(roots: list[Path], given: list[str], protocol: Protocol) -> list:
    """Every answer is a recorded step (verbatim but for escaped surrogates), readable, exportable, reportable."""
    steps = []
    for root in roots:
        traj = load_trajectory(root)
        assert traj.problems == [] and traj.meta.outcome in ("unverified", "failure"), (traj.problems, traj.meta)
        steps += traj.steps
        samples, _ = build_samples([root], ExportOptions(protocol=protocol, keep_unparsed=True))
        for sample in samples:
            "".join(t.text for t in sample.turns).encode("utf-8")
        render_html(traj).encode("utf-8")
        for name in ("meta.json", "steps.jsonl"):
            (root / name).read_bytes().decode("utf-8")  # strict: valid UTF-8 on disk
    assert [s.raw for s in steps[: len(given)]] == [recordable(a) for a in given]
    for step in steps:
        assert (step.format_error is None) == bool(step.actions), step.raw
    return steps


@pytest.mark.parametrize("kind", list(CRASHERS))
def test_what_crashed_episodes_is_a_format_error_fed_back_to_the_model(chromium, server, pages_url, tmp_path, kind):
    for protocol, answer in CRASHERS[kind]:
        roots = run_episodes(chromium, server, pages_url, tmp_path / protocol, protocol, [answer])
        assert len(roots) == 1
        steps = check_recorded(roots, [answer], protocol)
        assert len(steps) == 2 and steps[0].format_error and steps[1].model_actions == [{"action": "terminate", "status": "success"}]
        assert load_trajectory(roots[0]).meta.outcome == "unverified"
        # the next request carried the error back to the model
        assert json.dumps(steps[0].format_error)[1:-1] in json.dumps(server.prompts[1], ensure_ascii=False)


def _quick(answer: str, protocol: Protocol) -> bool:
    """Whether an answer runs in a moment on the page (long waits and typing are fuzzed in-process)."""
    try:
        actions = parse_answer(answer, protocol, "desktop", "qwen2.5-vl").actions
    except ParseError:
        return True
    return not any((isinstance(a, Wait) and a.time > 0.2) or (isinstance(a, Type) and len(a.text) > 40) for a in actions)


@pytest.mark.parametrize("protocol", ["tool-call", "function-result-return"])
def test_fuzzed_answers_through_episodes_on_chromium(chromium, server, pages_url, tmp_path, protocol):
    seed = 1 if protocol == "tool-call" else 2
    answers = [a for p, a in mutated_answers(seed, 200) if p == protocol and _quick(a, protocol)][:12]
    roots = run_episodes(chromium, server, pages_url, tmp_path, protocol, answers)
    steps = check_recorded(roots, answers, protocol)
    errors = sum(1 for s in steps[: len(answers)] if s.format_error)
    assert 0 < errors < len(answers)


def test_a_long_unparsed_answer_goes_back_to_the_model_cut(chromium, server, pages_url, tmp_path):
    answer = "I will click. " + "x" * 60_000
    roots = run_episodes(chromium, server, pages_url, tmp_path, "tool-call", [answer])
    steps = check_recorded(roots, [answer], "tool-call")
    assert steps[0].raw == answer  # the trajectory keeps all of it
    echoed = json.dumps(server.prompts[1], ensure_ascii=False)
    assert "I will click. xxx" in echoed and "[58014 more characters]" in echoed and len(echoed) < 20_000


def test_a_page_title_that_is_not_text_is_recorded_escaped(chromium, server, pages_url, tmp_path):
    # the env is outside input too: a page may hold a lone surrogate, and Playwright hands it over as one
    answer = format_tool_call(Terminate(status="success"), "desktop", "qwen2.5-vl")
    roots = run_episodes(chromium, server, pages_url, tmp_path, "tool-call", [answer],
                         page_js="(document.title = 'caf\\udcc1', true)")
    steps = check_recorded(roots, [answer], "tool-call")
    assert steps[0].title == "caf\\udcc1"


class OddServer(LoadServer):
    """A fake model server (the boundary under test) that sends whole response bodies of shapes vLLM
    never sends but other servers and proxies do: content as parts, as an object, as a number, and
    usage counts that are made up. Answers ``terminate`` when its list is spent."""

    def __init__(self, bodies: list[dict[str, Any]]) -> None:
        super().__init__(delay_s=0.0, model=MODEL)
        self.bodies = bodies

    async def _chat(self, request):  # noqa: ANN001 - aiohttp's request
        from aiohttp import web

        await request.read()
        done = {"content": format_tool_call(Terminate(status="success"), "desktop", "qwen2.5-vl")}
        message = self.bodies.pop(0) if self.bodies else done
        usage = message.pop("usage", {"prompt_tokens": 10, "completion_tokens": 5})
        return web.json_response({"choices": [{"index": 0, "message": {"role": "assistant", **message}}], "usage": usage})


def test_odd_answer_shapes_and_made_up_usage_are_recorded_not_crashes(chromium, pages_url, tmp_path):
    click = format_tool_call(Wait(time=0.1), "desktop", "qwen2.5-vl")
    bodies = [
        {"content": [{"type": "text", "text": click[:20]}, {"type": "text", "text": click[20:]}]},  # parts: joined
        {"content": {"action": "wait"}},              # an object: recorded as JSON, a format error
        {"content": 12345},                            # a number: the same
        {"content": click, "usage": {"prompt_tokens": 10**30, "completion_tokens": -4}},  # counts dropped
        {"content": click, "usage": {"prompt_tokens": True, "completion_tokens": "7"}},
    ]
    with OddServer(bodies) as server:
        out = tmp_path / "odd"
        chromium.reset(pages_url + "/pad.html")
        writer = TrajectoryWriter.create(out, TrajectoryMeta(task="odd"))
        policy = VLMPolicy(VLMConfig(base_url=server.base_url, model=MODEL, max_pixels=256 * 28 * 28,
                                     video=VideoConfig(history_seconds=0), max_retries=0))
        episode = Episode(chromium, policy, Task(instruction="odd shapes"), writer, LoopConfig(max_steps=8))
        try:
            result = episode.run()
            assert episode.resume().steps == len(load_trajectory(out).steps)  # the checkpoint reads back
        finally:
            episode.close()
    assert result.status == "unverified", result.reason
    steps = load_trajectory(out).steps
    assert [s.format_error is None for s in steps] == [True, False, False, True, True, True]
    assert steps[0].raw == click and steps[1].raw == '{"action": "wait"}' and steps[2].raw == "12345"
    for step in steps[3:5]:
        assert step.usage is not None
        assert "prompt_tokens" not in step.usage and "completion_tokens" not in step.usage
