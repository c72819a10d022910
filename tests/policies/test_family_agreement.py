"""Every model family reads its answers as its authors' code does (issue 27).

Per family, a seeded corpus of generated answers (every action its prompt offers x every coordinate form
its authors accept x screens from below the smallest resize limit to above the largest, thoughts over
several lines, text with quotes, escapes, line breaks and non-ASCII) is read by our parser and mapping and by
the authors' own: the ``ui-tars`` and ``qwen-agent`` packages, and the repository rules written out in
tests/agreement where no package exists. Each difference must be one the family states as deliberate, with
its reason (``ModelFamily.deliberate``), and each stated one must still be met.
"""

from __future__ import annotations

import pytest

from guiagent.policies.families import FAMILIES, get_family
from tests.agreement import check, table
from tests.agreement.generate import SCREENS

# answers a family: at least its grid of (cell x screen), so every cell meets every screen
N = {"ui-tars-1.5": 1200, "opencua": 1200}


@pytest.mark.parametrize("family", list(FAMILIES))
def test_the_family_reads_answers_as_its_authors_do(family):
    checked = check(family, N.get(family, 500))
    differ = [c for c in checked if c.verdict == "differ"]
    assert not differ, "\n\n".join(
        f"{c.sample.kind} / {c.sample.form} on {c.sample.screen}:\n{c.sample.text}\nours:   {c.ours}\ntheirs: {c.theirs}"
        for c in differ[:3])
    assert {s for c in checked for s in (c.sample.screen,)} == set(SCREENS)
    met = set().union(*(c.deliberate for c in checked))
    assert met == set(get_family(family).deliberate), "each stated difference is met, and no other"
    assert all(r[3] + r[4] + r[5] for r in table(checked))


def test_the_ui_tars_defects_of_issue_27_are_fixed():
    from guiagent.tools import CallUser, HScroll, Scroll, Type

    family = get_family("ui-tars-1.5")

    def actions(action: str) -> list:
        return family.parse(f"Thought: t\nAction: {action}", "tool-call", "desktop").actions

    # the prompt offers left and right: a horizontal scroll, not a scolding
    assert actions("scroll(point='<point>5 6</point>', direction='left')") == [HScroll(coordinate=(5, 6), pixels=-500)]
    assert actions("scroll(direction='right')") == [HScroll(pixels=500)]
    assert actions("scroll(direction='up')") == [Scroll(pixels=500)]
    # renaming point= touches argument names only
    assert actions("type(content='--endpoint=x')") == [Type(text="--endpoint=x")]
    # the fallback (unescaped quotes) unescapes as ui-tars does: no stray backslashes
    assert actions("type(content='a \\'b\\' it's')") == [Type(text="a 'b' it's")]
    # a scroll without a direction is a format error
    from guiagent.tools.parsing import ParseError

    with pytest.raises(ParseError, match="scroll needs direction"):
        actions("scroll(point='<point>5 6</point>')")
    # call_user asks a person for help: its own action, not a failed terminate
    assert actions("call_user()") == [CallUser()]
    assert "call_user()" in family.task_text("do it")


def test_the_readme_says_what_each_family_was_checked_against():
    from pathlib import Path

    readme = (Path(__file__).parents[2] / "README.md").read_text()
    rows = {line.split("`")[1]: line for line in readme.splitlines() if line.startswith("| `")}
    for name, family in FAMILIES.items():
        assert rows[name].endswith(f"| {family.checked_against} |"), name
