"""Every model family's parser against its authors' own reading of the same answers (issue 27).

Per family, a seeded corpus of answers (``corpus``), the authors' reading of each (``reference``: their
package where they publish one, ``ui-tars`` and ``qwen-agent``; their repository's rules written out where
they do not), ours (the family's parser and mapping), and ``explain``: which of the family's stated
deliberate differences (``ModelFamily.deliberate``) accounts for a difference. ``check`` gives each answer's
verdict: agree, deliberate (with the differences' ids) or differ; tests/policies/test_family_agreement.py
asserts no differ, bench/agreement.py prints the table.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from guiagent.policies.families import FAMILIES, get_family
from tests.agreement import opencua, qwen, uitars
from tests.agreement.outcome import Outcome, Sample, agree, ours

Explain = Callable[[Sample, Outcome, Outcome], "set[str] | None"]


@dataclass(frozen=True)
class Side:
    corpus: Callable[[int, int], list[Sample]]
    reference: Callable[[Sample], Outcome]
    explain: Explain


SIDES: dict[str, Side] = {
    uitars.FAMILY: Side(uitars.corpus, lambda s: uitars.uitars(s.text, s.screen), uitars.explain),
    opencua.FAMILY: Side(opencua.corpus, opencua.reference, opencua.explain),
    **{name: Side(lambda n, seed, f=name: qwen.corpus(f, n, seed), qwen.reference, qwen.explain)
       for name in qwen.FAMILIES},
}
assert set(SIDES) == set(FAMILIES), "every family is checked"


@dataclass(frozen=True)
class Checked:
    sample: Sample
    ours: Outcome
    theirs: Outcome
    verdict: str  # agree, deliberate, differ
    deliberate: frozenset[str] = frozenset()


def check(family: str, n: int, seed: int = 0) -> list[Checked]:
    """``n`` generated answers of ``family``, each read by both sides, with its verdict."""
    side, profile = SIDES[family], get_family(family)
    out = []
    for sample in side.corpus(n, seed):
        mine, theirs = ours(profile, sample), side.reference(sample)
        if agree(mine, theirs):
            out.append(Checked(sample, mine, theirs, "agree"))
            continue
        ids = side.explain(sample, mine, theirs)
        verdict = "deliberate" if ids and ids <= set(profile.deliberate) else "differ"
        out.append(Checked(sample, mine, theirs, verdict, frozenset(ids or ())))
    return out


def table(checked: list[Checked]) -> list[tuple[str, str, str, int, int, int, str]]:
    """Rows of (family, kind, form, agree, deliberate, differ, the deliberate ids met)."""
    counts: dict[tuple[str, str, str], Counter[str]] = {}
    ids: dict[tuple[str, str, str], set[str]] = {}
    for c in checked:
        key = (c.sample.family, c.sample.kind, c.sample.form)
        counts.setdefault(key, Counter())[c.verdict] += 1
        ids.setdefault(key, set()).update(c.deliberate)
    return [(*key, n["agree"], n["deliberate"], n["differ"], ", ".join(sorted(ids[key])))
            for key, n in sorted(counts.items())]
