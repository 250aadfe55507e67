#!/usr/bin/env bash
# Combine the reports of several test runs into one: OUT/{.coverage, coverage.xml, htmlcov/,
# junit.xml, summary.md}. Each DIR is what scripts/run-tests.sh wrote (reports/unit,
# reports/compose, reports/compose-1-of-2, ...): its .coverage (host and container data, already
# combined there) and its junit.xml. summary.md holds the test counts and the coverage totals per
# package in Markdown, for a CI job summary.
#
# A DIR without both files is an error: a shard whose reports are missing would otherwise just
# lower the figures.
#
# Usage: scripts/coverage-report.sh OUT DIR...
set -euo pipefail
out=$1
shift
bin=${VENV:-.venv}/bin
missing=()
for dir in "$@"; do
  for file in .coverage junit.xml; do
    [ -f "$dir/$file" ] || missing+=("$dir/$file")
  done
done
if [ "${#missing[@]}" -gt 0 ]; then
  printf '[coverage-report] missing: %s\n' "${missing[@]}" >&2
  exit 1
fi
rm -rf "$out"
mkdir -p "$out"
export COVERAGE_FILE=$out/.coverage
data=()
junits=()
for dir in "$@"; do
  data+=("$dir/.coverage")
  junits+=("$dir/junit.xml")
done
"$bin/coverage" combine -q --keep "${data[@]}"
"$bin/coverage" xml -q -o "$out/coverage.xml"
"$bin/coverage" html -q -d "$out/htmlcov"
# junitparser: one <testsuites> holding every run's <testsuite>, named after its run.
"$bin/junitparser" merge "${junits[@]}" "$out/junit.xml"
"$bin/python" scripts/coverage_summary.py "$out/coverage.xml" "$out/junit.xml" >"$out/summary.md"
cat "$out/summary.md"
