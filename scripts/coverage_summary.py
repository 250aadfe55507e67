"""Print a Markdown summary of a Cobertura coverage.xml (the total, then each package) and, when
given, of a JUnit XML report (the tests of each run, and in all)."""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET


def coverage(path: str) -> str:
    root = ET.parse(path).getroot()
    lines = [
        f"### Coverage: {float(root.get('line-rate', 0)) * 100:.1f}% of lines",
        "",
        "| package | lines | covered |",
        "|---|---:|---:|",
    ]
    for package in root.iter("package"):
        hits = [int(line.get("hits", "0")) > 0 for line in package.iter("line")]
        covered = 100 * sum(hits) / len(hits) if hits else 100.0
        lines.append(f"| `{package.get('name')}` | {len(hits)} | {covered:.1f}% |")
    return "\n".join(lines) + "\n"


def tests(path: str) -> str:
    """One row per <testsuite> (one per run: unit, each compose shard), then the totals."""
    keys = ("tests", "failures", "errors", "skipped")
    rows, totals = [], dict.fromkeys(keys, 0)
    for suite in ET.parse(path).getroot().iter("testsuite"):
        counts = {key: int(suite.get(key, "0")) for key in keys}
        rows.append(f"| `{suite.get('name')}` | " + " | ".join(str(counts[k]) for k in keys) + " |")
        totals = {key: totals[key] + counts[key] for key in keys}
    lines = [
        f"### Tests: {totals['tests']}, {totals['failures']} failed, {totals['errors']} errors",
        "",
        "| run | tests | failures | errors | skipped |",
        "|---|---:|---:|---:|---:|",
        *rows,
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    parts = [tests(sys.argv[2])] if len(sys.argv) > 2 else []
    sys.stdout.write("\n".join([*parts, coverage(sys.argv[1])]))
