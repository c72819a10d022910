"""The model-boundary fuzz at full count: mutated real answers and Hypothesis-built ones, of Qwen's two
protocols and of the families with forms of their own (UI-TARS-1.5, OpenCUA: tests/tools/fuzzing_families.py),
through parse, map, recordable state, checkpoint serializer, steps.jsonl, next prompt, export and report
(tests/tools/fuzzing.py), then the parse time of the longest, slowest-shaped answers.

Prints, per family, the counts (answers, format errors, accepted, exceptions) and the slowest parse, each
answer's parse timed in CPU time, the best of 3 runs, so the machine's load does not count; ``make test``
runs a fixed-seed subset (tests/tools/test_fuzz.py) and episodes on Chromium (tests/tools/test_fuzz_episode.py).

    .venv/bin/python bench/fuzz.py [--mutated 10000] [--hypothesis 3000] [--seed 0] [--families qwen2.5-vl,ui-tars-1.5,opencua]

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

from guiagent.policies.dialect import Dialect  # noqa: E402
from guiagent.tools import CoordinateOutOfRange  # noqa: E402
from guiagent.tools.parsing import MAX_ANSWER_CHARS, ParseError, Protocol, parse_answer  # noqa: E402
from tests.tools.fuzzing import CRASHERS, LONGEST, PROTOCOLS, SEEDS, AnswerPath, answers, mutated_answers  # noqa: E402
from tests.tools.fuzzing_families import (  # noqa: E402
    FAMILY_ANSWERS,
    FAMILY_SEEDS,
    FUZZED_FAMILIES,
    longest,
    mutated_family_answers,
)

QWEN = "qwen2.5-vl"


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


def parse_ms(protocol: str, raw: str, runs: int = 3, family: str = QWEN) -> float:
    """The answer's parse time in CPU ms (the time this thread ran, so a loaded machine's waits do
    not count), the best of ``runs``."""
    dialect = Dialect.of(family, cast(Protocol, protocol), "desktop")
    parse = (lambda: parse_answer(raw, dialect.protocol, "desktop", "qwen2.5-vl")) if family == QWEN else (lambda: dialect.parse(raw))
    best = float("inf")
    for _ in range(runs):
        t0 = time.thread_time()
        try:
            parse()
        except (ParseError, CoordinateOutOfRange):
            pass
        best = min(best, time.thread_time() - t0)
    return best * 1000


class Run:
    def __init__(self, root: Path, family: str = QWEN) -> None:
        self.family = family
        self.path = AnswerPath(root, chunk=500, report_every=20, family=None if family == QWEN else family)
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
        ms = parse_ms(protocol, raw, family=self.family)
        if ms > self.slowest[0]:
            self.slowest = (ms, protocol, raw)

    def flush(self) -> None:
        try:
            self.path.flush()
        except Exception:
            self.exceptions.append(f"reading back a trajectory\n{traceback.format_exc(limit=4)}")


def qwen_run(root: Path, args: argparse.Namespace) -> Run:
    run = Run(root)
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
    return run


def family_run(root: Path, family: str, args: argparse.Namespace) -> Run:
    run = Run(root, family)
    for raw in FAMILY_SEEDS[family]:
        run.feed("seeds", "tool-call", raw)
    for raw in mutated_family_answers(family, args.seed, args.mutated):
        run.feed("mutated", "tool-call", raw)

    @settings(max_examples=args.hypothesis, database=None, deadline=None, phases=[Phase.generate],
              suppress_health_check=cast(list[HealthCheck], list(HealthCheck)))
    @seed(args.seed)
    @given(answer=FAMILY_ANSWERS[family]())
    def hypothesis_answers(answer: str) -> None:
        run.feed("hypothesis", "tool-call", answer)

    hypothesis_answers()
    for raw in longest(family).values():
        run.feed("longest", "tool-call", raw)
    run.flush()
    return run


def report(run: Run, elapsed: float) -> None:
    counts = run.path.counts
    crashers = f"; the {sum(map(len, CRASHERS.values()))} issue-9 crashers among the seeds" if run.family == QWEN else ""
    print(f"\n== {run.family}")
    print(f"answers: {counts['answers'] + len(run.exceptions)} "
          f"({', '.join(f'{k} {v}' for k, v in run.by_source.items())}{crashers})")
    print(f"format errors (recorded, fed back): {counts['format_errors']}")
    unlabelled = f"; {counts['unlabelled']} its form cannot write, skipped by the export with the reason" \
        if counts["unlabelled"] else ""
    print(f"accepted: {counts['accepted']} ({counts['actions']} actions, {counts['exported']} exported as labels{unlabelled})")
    print(f"exceptions: {len(run.exceptions)}")
    ms, protocol, raw = run.slowest
    print(f"max parse ms (CPU, best of 3 per answer): {ms:.2f} ({protocol}, {len(raw)} characters: {raw[:60]!r})")
    shapes = LONGEST if run.family == QWEN else longest(run.family)
    protocols = PROTOCOLS if run.family == QWEN else ("tool-call",)
    slowest = {name: max(parse_ms(p, raw, runs=5, family=run.family) for p in protocols) for name, raw in shapes.items()}
    name = max(slowest, key=slowest.get)  # type: ignore[arg-type]
    print(f"max parse ms at the longest answer read ({MAX_ANSWER_CHARS} characters, CPU, best of 5): "
          f"{slowest[name]:.2f} ({name})")
    print(f"wall time: {elapsed:.1f} s")
    for text in run.exceptions[:5]:
        print("\n" + text)


def main() -> None:
    assert __doc__ is not None
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mutated", type=int, default=10_000, help="mutated real answers, per family")
    parser.add_argument("--hypothesis", type=int, default=3_000, help="Hypothesis-built answers, per family")
    parser.add_argument("--seed", type=int, default=0, help="seeds both generators: the same counts each run")
    parser.add_argument("--constrained", type=int, default=0,
                        help="answers per model family drawn from its constrained-output regex (0: none)")
    parser.add_argument("--families", default=",".join([QWEN, *FUZZED_FAMILIES]),
                        help="the families whose forms are fuzzed (Qwen's two protocols, and the families with parsers of their own)")
    args = parser.parse_args()
    failed = False
    with tempfile.TemporaryDirectory() as tmp:
        for family in args.families.split(","):
            if family != QWEN and family not in FUZZED_FAMILIES:
                sys.exit(f"--families: {family!r} is not fuzzed here (one of {QWEN}, {', '.join(FUZZED_FAMILIES)})")
            t0 = time.perf_counter()
            run = qwen_run(Path(tmp) / family, args) if family == QWEN else family_run(Path(tmp) / family, family, args)
            report(run, time.perf_counter() - t0)
            failed = failed or bool(run.exceptions)
    failures = constrained(args.constrained, args.seed) if args.constrained else []
    if args.constrained:
        print(f"constrained answers that gave no actions: {len(failures)}")
        for text in failures[:5]:
            print("\n" + text)
    sys.exit(1 if failed or failures else 0)


if __name__ == "__main__":
    main()
