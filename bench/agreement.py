"""The agreement table: every model family's parser against its authors' own, on the same generated corpora
as tests/policies/test_family_agreement.py (tests/agreement), at full count.

Prints, per family x action kind x form, how many answers agree, differ on purpose (deliberate: the ids of
the family's ``ModelFamily.deliberate`` met) and differ otherwise; then each family's deliberate differences
with their reasons. Exits 1 when any answer differs without a stated reason.

    .venv/bin/python bench/agreement.py [--answers 2000] [--seed 0] [--family ui-tars-1.5 ...]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from guiagent.policies.families import FAMILIES, get_family  # noqa: E402
from tests.agreement import check, table  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--answers", type=int, default=2000, help="generated answers a family (default 2000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--family", action="append", choices=list(FAMILIES), help="only these families")
    args = parser.parse_args()
    families = args.family or list(FAMILIES)
    header = ("family", "kind", "form", "agree", "deliberate", "differ", "deliberate differences met")
    rows, totals = [], []
    for name in families:
        t0 = time.perf_counter()
        checked = check(name, args.answers, args.seed)
        seconds = time.perf_counter() - t0
        rows += table(checked)
        verdicts = [c.verdict for c in checked]
        totals.append((name, get_family(name).checked_against, len(checked), verdicts.count("agree"),
                       verdicts.count("deliberate"), verdicts.count("differ"), seconds))
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for r in [header, *rows]:
        print("  ".join(str(v).ljust(w) for v, w in zip(r, widths, strict=True)).rstrip())
    print()
    for name, against, n, agree, deliberate, differ, seconds in totals:
        print(f"{name}: {n} answers, {agree} agree, {deliberate} deliberate, {differ} differ ({seconds:.1f} s); "
              f"checked against {against}")
    print()
    for name in families:
        for key, reason in get_family(name).deliberate.items():
            print(f"{name} {key}: {reason}")
    sys.exit(1 if any(t[5] for t in totals) else 0)


if __name__ == "__main__":
    main()
