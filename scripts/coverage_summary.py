"""Print a Markdown summary of a Cobertura coverage.xml: the total, then each package."""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET


def summary(path: str) -> str:
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


if __name__ == "__main__":
    sys.stdout.write(summary(sys.argv[1]))
