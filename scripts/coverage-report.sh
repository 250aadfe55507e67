#!/usr/bin/env bash
# Combine coverage data files into one report: OUT/{.coverage, coverage.xml,
# htmlcov/, summary.md}. summary.md holds the total and per-package figures
# in Markdown, for a CI job summary.
#
# Usage: scripts/coverage-report.sh OUT DATAFILE...
set -euo pipefail
out=$1
shift
bin=${VENV:-.venv}/bin
rm -rf "$out"
mkdir -p "$out"
export COVERAGE_FILE=$out/.coverage
"$bin/coverage" combine -q --keep "$@"
"$bin/coverage" xml -q -o "$out/coverage.xml"
"$bin/coverage" html -q -d "$out/htmlcov"
"$bin/python" scripts/coverage_summary.py "$out/coverage.xml" >"$out/summary.md"
cat "$out/summary.md"
