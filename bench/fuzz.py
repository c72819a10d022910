"""The model-boundary fuzz at full count: mutated real answers and Hypothesis-built ones, of both
protocols, through parse, map, recordable state, checkpoint serializer, steps.jsonl, next prompt,
export and report (tests/tools/fuzzing.py), then the parse time of the longest, slowest-shaped answers.

Prints the counts (answers, format errors, accepted, exceptions) and the slowest parse, each answer's
parse timed in CPU time, the best of 3 runs, so the machine's load does not count; ``make test`` runs a
fixed-seed subset (tests/tools/test_fuzz.py) and episodes on Chromium (tests/tools/test_fuzz_episode.py).

    .venv/bin/python bench/fuzz.py [--mutated 10000] [--hypothesis 3000] [--seed 0] [--constrained 20000]

``--constrained N`` also draws N answers per model family from its constrained-output regex (Hypothesis's
``from_regex``, tests/policies/regex_answers.py) and reads each on its screen: every one must give actions.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import cast

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hypothesis import HealthCheck, Phase, given, seed, settings  # noqa: E402

from guiagent.tools.parsing import MAX_ANSWER_CHARS, ParseError, parse_answer  # noqa: E402
from tests.tools.fuzzing import CRASHERS, LONGEST, PROTOCOLS, SEEDS, AnswerPath, answers, mutated_answers  # noqa: E402


def constrained(per_family: int, seed_value: int) -> list[str]:
    """Answers drawn from every family's constrained regex, read on their screens: the failures, shown."""
    from guiagent.policies.families import FAMILIES
    from tests.policies.regex_answers import Drawn, read, regex_answers

    failures: list[str] = []
    for family in FAMILIES.values():
        t0 = time.perf_counter()

        @settings(max_examples=per_family, database=None, deadline=None, phases=[Phase.generate],
                  suppress_health_check=cast(list[HealthCheck], list(HealthCheck)))
        @seed(seed_value)
        @given(drawn=regex_answers(family))
        def reads(drawn: Drawn) -> None:
            try:
                read(family, drawn)  # noqa: B023  (run at once, for this family)
            except Exception as exc:  # counted and shown: the result must be zero
                failures.append(f"{family.name} {drawn[1]} {drawn[2]} {drawn[3][:200]!r}: {exc}")  # noqa: B023

        reads()
        print(f"constrained {family.name}: {per_family} answers in {time.perf_counter() - t0:.1f} s")
    return failures


def parse_ms(protocol: str, raw: str, runs: int = 3) -> float:
    """The answer's parse time in CPU ms (the time this thread ran, so a loaded machine's waits do
    not count), the best of ``runs``."""
    best = float("inf")
    for _ in range(runs):
        t0 = time.thread_time()
        try:
            parse_answer(raw, protocol)  # type: ignore[arg-type]
        except ParseError:
            pass
        best = min(best, time.thread_time() - t0)
    return best * 1000


class Run:
    def __init__(self, root: Path) -> None:
        self.path = AnswerPath(root, chunk=500, report_every=20)
        self.exceptions: list[str] = []
        self.slowest = (0.0, "", "")
        self.by_source: dict[str, int] = {}

    def feed(self, source: str, protocol: str, raw: str) -> None:
        self.by_source[source] = self.by_source.get(source, 0) + 1
        try:
            self.path.feed(protocol, raw)  # type: ignore[arg-type]
        except Exception:  # counted and shown: the result must be zero
            self.exceptions.append(f"{source} {protocol} {raw[:200]!r}\n{traceback.format_exc(limit=4)}")
            return
        ms = parse_ms(protocol, raw)
        if ms > self.slowest[0]:
            self.slowest = (ms, protocol, raw)

    def flush(self) -> None:
        try:
            self.path.flush()
        except Exception:
            self.exceptions.append(f"reading back a trajectory\n{traceback.format_exc(limit=4)}")


def main() -> None:
    assert __doc__ is not None
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mutated", type=int, default=10_000, help="mutated real answers")
    parser.add_argument("--hypothesis", type=int, default=3_000, help="Hypothesis-built answers")
    parser.add_argument("--seed", type=int, default=0, help="seeds both generators: the same counts each run")
    parser.add_argument("--constrained", type=int, default=0,
                        help="answers per model family drawn from its constrained-output regex (0: none)")
    args = parser.parse_args()

    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        run = Run(Path(tmp))
        for protocol, raw in SEEDS:
            run.feed("seeds", protocol, raw)
        for protocol, raw in mutated_answers(args.seed, args.mutated):
            run.feed("mutated", protocol, raw)

        @settings(max_examples=args.hypothesis, database=None, deadline=None, phases=[Phase.generate],
                  suppress_health_check=cast(list[HealthCheck], list(HealthCheck)))
        @seed(args.seed)
        @given(answer=answers())
        def hypothesis_answers(answer: tuple[str, str]) -> None:
            run.feed("hypothesis", *answer)

        hypothesis_answers()
        for raw in LONGEST.values():
            for protocol in PROTOCOLS:
                run.feed("longest", protocol, raw)
        run.flush()
        elapsed = time.perf_counter() - t0

        counts = run.path.counts
        print(f"answers: {counts['answers'] + len(run.exceptions)} "
              f"({', '.join(f'{k} {v}' for k, v in run.by_source.items())}; the {sum(map(len, CRASHERS.values()))} "
              f"issue-9 crashers among the seeds)")
        print(f"format errors (recorded, fed back): {counts['format_errors']}")
        print(f"accepted: {counts['accepted']} ({counts['actions']} actions, {counts['exported']} exported as labels)")
        print(f"exceptions: {len(run.exceptions)}")
        ms, protocol, raw = run.slowest
        print(f"max parse ms (CPU, best of 3 per answer): {ms:.2f} ({protocol}, {len(raw)} characters: {raw[:60]!r})")
        longest = {name: max(parse_ms(p, raw, runs=5) for p in PROTOCOLS) for name, raw in LONGEST.items()}
        name = max(longest, key=longest.get)  # type: ignore[arg-type]
        print(f"max parse ms at the longest answer read ({MAX_ANSWER_CHARS} characters, CPU, best of 5): "
              f"{longest[name]:.2f} ({name})")
        print(f"wall time: {elapsed:.1f} s")
        for text in run.exceptions[:5]:
            print("\n" + text)
    failures = constrained(args.constrained, args.seed) if args.constrained else []
    if args.constrained:
        print(f"constrained answers that gave no actions: {len(failures)}")
        for text in failures[:5]:
            print("\n" + text)
    sys.exit(1 if run.exceptions or failures else 0)


if __name__ == "__main__":
    main()
