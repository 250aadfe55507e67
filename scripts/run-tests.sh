#!/usr/bin/env bash
# Run pytest under coverage.py and write its reports to reports/NAME/:
# junit.xml, .coverage, coverage.xml and htmlcov/. Exits with pytest's status.
#
# coverage.py starts before pytest imports any plugin, so the plugin's own
# import-time lines count too (pytest-cov starts after entry-point plugins
# load). --compose-coverage adds the code that ran inside the containers.
#
# Usage: scripts/run-tests.sh NAME [PYTEST ARGS...]
set -uo pipefail
name=$1
shift
bin=${VENV:-.venv}/bin
out=reports/$name
rm -rf "$out"
mkdir -p "$out"
export COVERAGE_FILE=$out/.coverage

# The junit suite is named after the run, so a merged report (scripts/coverage-report.sh) says
# which run each test came from.
"$bin/coverage" run --parallel-mode -m pytest --junitxml="$out/junit.xml" -o junit_suite_name="$name" \
  --compose-coverage "$@"
status=$?

"$bin/coverage" combine -q
"$bin/coverage" xml -q -o "$out/coverage.xml"
"$bin/coverage" html -q -d "$out/htmlcov"
"$bin/coverage" report --format=total | sed "s/^/$name coverage: /;s/$/%/"
exit "$status"
