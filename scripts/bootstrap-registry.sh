#!/usr/bin/env bash
# Make Debian's docker-registry (distribution 2.8) available, idempotently.
#
# The release rehearsal (python -m release.rehearse, tests/release) starts it
# itself, on a free 127.0.0.1 port with storage in a temporary directory, and
# stops it afterwards; this script only installs the binary. The package
# ships a service unit for :5000, which nothing starts on a machine without
# systemd; the rehearsal never uses that service or its configuration.
set -euo pipefail

log() { printf '[bootstrap-registry] %s\n' "$*" >&2; }

if command -v docker-registry >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  log "installing docker-registry needs root; run this script as root or: apt-get install -y docker-registry"
  exit 1
fi
log "installing docker-registry from Debian packages"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-registry >/dev/null
log "ready: $(docker-registry --version)"
