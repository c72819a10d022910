"""The model boundary, fuzzed in-process: mutated real answers and Hypothesis-built ones, of both
protocols and of UI-TARS-1.5's and OpenCUA's own forms, through parse, map, the recordable rule, the
checkpoint serializer, steps.jsonl, the next prompt, the export and the report (tests/tools/fuzzing.py,
tests/tools/fuzzing_families.py). A fixed-seed subset; bench/fuzz.py runs
the full count. Executing on a real env: tests/tools/test_fuzz_episode.py."""

from __future__ import annotations

import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from guiagent.tools.actions import MODEL_ACTIONS, MouseMove, Scroll
from guiagent.tools.parsing import format_function_call, format_tool_call, parse_answer
from tests.tools.fuzzing import CRASHERS, LONGEST, SEEDS, AnswerPath, answers, mutated_answers
from tests.tools.fuzzing_families import FAMILY_ANSWERS, FAMILY_SEEDS, FUZZED_FAMILIES, longest, mutated_family_answers


@pytest.fixture(scope="module")
def path(tmp_path_factory) -> AnswerPath:
    return AnswerPath(tmp_path_factory.mktemp("fuzz"), chunk=400, report_every=10)


@pytest.mark.parametrize("kind", list(CRASHERS))
def test_what_crashed_episodes_is_a_recorded_format_error(path, kind):
    for protocol, raw in CRASHERS[kind]:
        decision = path.feed(protocol, raw)
        assert decision.format_error and not decision.actions, (kind, protocol)
        assert "\udcc1" not in decision.raw  # recorded escaped, as text
    path.flush()


def test_real_answers_are_accepted_and_round_trip(path):
    accepted = 0
    for protocol, raw in SEEDS:
        decision = path.feed(protocol, raw)
        if decision.format_error is None:
            accepted += 1
            assert all(a.action in MODEL_ACTIONS for a in decision.model_actions)
            fmt = format_tool_call if protocol == "tool-call" else format_function_call
            again = parse_answer("\n".join(fmt(a, "desktop", "qwen2.5-vl") for a in decision.model_actions), protocol, "desktop",
                                 "qwen2.5-vl")
            assert again.actions == decision.model_actions
    assert accepted >= len(SEEDS) - sum(len(v) for v in CRASHERS.values())


def test_mutated_answers_of_both_protocols(path):
    before = dict(path.counts)
    for protocol, raw in mutated_answers(seed=9, count=1500):
        path.feed(protocol, raw)
    path.flush()
    answered = path.counts["answers"] - before["answers"]
    errors = path.counts["format_errors"] - before["format_errors"]
    accepted = path.counts["accepted"] - before["accepted"]
    assert answered == 1500 and errors + accepted == 1500
    assert errors > 500 and accepted > 100  # the mutations reach both outcomes


@settings(max_examples=300, derandomize=True, database=None, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large])
@given(answer=answers())
def test_hypothesis_answers_of_both_protocols(path, answer):
    protocol, raw = answer
    decision = path.feed(protocol, raw)
    assert (decision.format_error is None) == bool(decision.actions)


def test_the_fuzzed_trajectories_read_back(path):
    """Whatever ran before on this module's path (in any order, as pytest-xdist may run them) and 400 more
    answers: every chunk written reads back (AnswerPath.flush checks it)."""
    before = path.counts["answers"]
    for protocol, raw in mutated_answers(seed=11, count=400):
        path.feed(protocol, raw)
    path.flush()
    assert path.counts["answers"] - before == 400


def test_the_longest_answers_go_through(path):
    for name, raw in LONGEST.items():  # bench/fuzz.py times them: none over 50 ms to parse
        for protocol in ("tool-call", "function-result-return"):
            assert len(raw) <= 65_536, name
            path.feed(protocol, raw)
    path.flush()


# -- the families with answer forms of their own: UI-TARS-1.5 and OpenCUA (tests/tools/fuzzing_families.py) --

FOUND = {  # what the fuzz found in their parsers (no action, TypeError, RecursionError, OverflowError): format errors now
    "ui-tars-1.5": ["Thought: t\nAction:", "Thought: t\nAction: type(content='')", "Action: f()" + ".a" * 3000 + "()"],
    "opencua": ["## Code:\n```python\npyautogui.click(563, 563, button=({}, [802]))\n```",
                "## Code:\n```python\npyautogui.click(x=" + "9" * 400 + ", y=1)\n```",
                "## Code:\n```python\nf()" + ".a" * 3000 + "()\n```"],
}


@pytest.fixture(scope="module", params=FUZZED_FAMILIES)
def family_path(request, tmp_path_factory) -> AnswerPath:
    return AnswerPath(tmp_path_factory.mktemp("fuzz-" + request.param), chunk=400, report_every=10, family=request.param)


def test_family_answers_the_fuzz_found_are_format_errors(family_path):
    assert family_path.family is not None
    for raw in FOUND[family_path.family.name]:
        decision = family_path.feed("tool-call", raw)
        assert decision.format_error and not decision.actions, raw


def _moved_scrolls(actions: list) -> list:
    """A pointer move followed by a scroll where the pointer is, as the one scroll at that point it stands for."""
    out: list = []
    for a in actions:
        if isinstance(a, Scroll) and a.coordinate is None and out and isinstance(out[-1], MouseMove):
            out[-1] = a.model_copy(update={"coordinate": out[-1].coordinate})
        else:
            out.append(a)
    return out


def test_family_seeds_are_accepted_and_round_trip(family_path):
    family = family_path.family
    assert family is not None
    for raw in FAMILY_SEEDS[family.name]:
        decision = family_path.feed("tool-call", raw)
        assert decision.format_error is None, (raw, decision.format_error)
        try:
            again = family.format_answer(decision.model_actions, decision.thought, "tool-call", "desktop")
        except ValueError:  # an action its form cannot write (OpenCUA: a click where the pointer is)
            continue
        whole = [a.map_points(lambda p: (round(p[0]), round(p[1]))) for a in decision.model_actions]  # its form writes whole pixels
        # OpenCUA's labels write a scroll at a point as moveTo then scroll (its training data's form): a pointer move
        # the label adds is not a difference
        assert _moved_scrolls(family.parse(again, "tool-call", "desktop").actions) == _moved_scrolls(whole), raw
    family_path.flush()


def test_mutated_family_answers(family_path):
    assert family_path.family is not None
    before = dict(family_path.counts)
    for raw in mutated_family_answers(family_path.family.name, seed=9, count=1500):
        family_path.feed("tool-call", raw)
    family_path.flush()
    errors = family_path.counts["format_errors"] - before["format_errors"]
    accepted = family_path.counts["accepted"] - before["accepted"]
    assert errors + accepted == 1500
    assert errors > 500 and accepted > 100  # the mutations reach both outcomes


@settings(max_examples=300, derandomize=True, database=None, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_hypothesis_family_answers(family_path, data):
    assert family_path.family is not None
    raw = data.draw(FAMILY_ANSWERS[family_path.family.name]())
    decision = family_path.feed("tool-call", raw)
    assert (decision.format_error is None) == bool(decision.actions)


def test_the_longest_family_answers_go_through(family_path):
    assert family_path.family is not None
    before = family_path.counts["answers"]  # the module's path counts across its tests, in whatever order they run
    answers = longest(family_path.family.name)
    for raw in answers.values():
        family_path.feed("tool-call", raw)
    family_path.flush()
    assert family_path.counts["answers"] - before == len(answers)


def test_python_warnings_on_a_models_odd_literals_are_not_printed():
    """Python's tokenizer warns on odd literals; in a run (not under pytest's own warning filters) the
    model's text prints nothing on stderr."""
    code = ("from guiagent.policies.families import get_family\n"
            "for name, answer in (('ui-tars-1.5', 'Action: click(start_box=1if 1 else 2)'),\n"
            "                     ('opencua', '## Code:\\npyautogui.click(1if 1 else 2, 3)')):\n"
            "    try:\n        get_family(name).parse(answer, 'tool-call', 'desktop')\n    except ValueError as exc:\n        print(exc)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stdout.count("only literal arguments") == 2, proc.stdout + proc.stderr
    assert proc.stderr == ""
