#!/usr/bin/env bash
# Static checks of the GitHub Actions workflows in .github/workflows and of
# .github/dependabot.yml:
#
#   1. zizmor, the security auditor: fails on any finding of medium severity
#      or above. It runs --offline, so it makes no GitHub API calls (the
#      audits that need the API, such as checking that a pinned SHA matches
#      its version comment, are skipped).
#   2. check-jsonschema against GitHub's workflow schema and Dependabot's
#      configuration schema. They are vendored inside the check-jsonschema
#      package (--builtin-schema), so nothing is downloaded.
#
# Neither tool needs the network at run time. The tools come from the
# project's .venv when it has them (make setup installs them, pinned in
# pyproject.toml), else from PATH.
set -euo pipefail
cd "$(dirname "$0")/.."

WORKFLOW_DIR=.github/workflows
DEPENDABOT=.github/dependabot.yml

log() { printf '[check-workflows] %s\n' "$*" >&2; }

# Sets TOOL to the path of the named tool, or exits.
find_tool() {
  if [ -x ".venv/bin/$1" ]; then
    TOOL=".venv/bin/$1"
  elif TOOL=$(command -v "$1"); then
    :
  else
    log "$1 not found in .venv/bin or on PATH; run 'make setup' (it is a dev dependency)."
    exit 2
  fi
}

shopt -s nullglob
workflows=("$WORKFLOW_DIR"/*.yml "$WORKFLOW_DIR"/*.yaml)
shopt -u nullglob
if [ "${#workflows[@]}" -eq 0 ]; then
  log "no workflow files in $WORKFLOW_DIR"
  exit 1
fi
if [ ! -f "$DEPENDABOT" ]; then
  log "$DEPENDABOT is missing"
  exit 1
fi

find_tool zizmor
zizmor=$TOOL
find_tool check-jsonschema
check_jsonschema=$TOOL

status=0

log "zizmor $("$zizmor" --version | awk '{print $2}'): findings of medium severity or above fail"
# --strict-collection: a file zizmor cannot parse is an error, not a warning
# that lets it go unaudited.
if ! "$zizmor" --offline --min-severity medium --strict-collection \
    --no-progress --color never "${workflows[@]}" "$DEPENDABOT"; then
  status=1
fi

log "check-jsonschema $("$check_jsonschema" --version | awk '{print $NF}'): GitHub workflow and Dependabot schemas (vendored)"
if ! "$check_jsonschema" --builtin-schema vendor.github-workflows "${workflows[@]}"; then
  status=1
fi
if ! "$check_jsonschema" --builtin-schema vendor.dependabot "$DEPENDABOT"; then
  status=1
fi

if [ "$status" -eq 0 ]; then
  log "ok: ${#workflows[@]} workflow file(s) and $DEPENDABOT pass"
else
  log "FAILED"
fi
exit "$status"
