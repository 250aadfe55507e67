#!/usr/bin/env bash
# Start Podman's Docker-compatible API service, idempotently, for the engine
# matrix tests; print the DOCKER_HOST that reaches it.
#
#   bash scripts/bootstrap-podman.sh [IMAGE...]   start it (if it is not up), load images
#   bash scripts/bootstrap-podman.sh --stop       stop the service this script started
#
# Rootful Podman from Debian 12 (4.3) without systemd: `podman system service`
# runs in the background and answers on its own socket. Its settings live in a
# containers.conf of its own (CONTAINERS_CONF), so no other Podman user of
# this machine is affected. Podman has its own image store: the stack's base
# images, and any IMAGE named, are copied there from the main Docker engine
# (`docker save | podman load`) when Podman lacks them or has another version.
# Everything this prints on stdout is shell: eval it, or copy the lines.
set -euo pipefail

STATE_DIR=${TEL3SIS_PODMAN_DIR:-/var/lib/tel3sis-podman}
SOCKET=${TEL3SIS_PODMAN_SOCKET:-/run/tel3sis-podman/podman.sock}
CONF=$STATE_DIR/containers.conf
PIDFILE=$STATE_DIR/service.pid
LOG=$STATE_DIR/service.log
# Keep in step with scripts/bootstrap-docker.sh.
BASE_IMAGES=(python:3.11-slim-bookworm redis:7-bookworm)

log() { printf '[podman] %s\n' "$*" >&2; }

if [ "$(id -u)" != 0 ]; then
  log "needs root (rootful Podman; it installs packages and starts a service)"
  exit 1
fi

# The main Docker engine, where images come from; never the Podman socket.
# shellcheck source=scripts/lib-load-image.sh
source "$(dirname "$0")/lib-load-image.sh"
# shellcheck disable=SC2317  # called through load_image
podman_cli() { CONTAINERS_CONF=$CONF podman "$@"; }
answers() { timeout 5 curl -fsS --unix-socket "$SOCKET" http://podman/_ping >/dev/null 2>&1; }

# The pid in our pid file, if that process is alive and is our service.
service_pid() {
  local pid
  pid=$(cat "$PIDFILE" 2>/dev/null) || return 1
  [ -n "$pid" ] && tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | grep -q "podman system service" || return 1
  # A killed service nobody has reaped yet is a zombie, not a service.
  [ "$(ps -o stat= -p "$pid" 2>/dev/null | cut -c1)" != Z ] || return 1
  echo "$pid"
}

stop_service() {
  local pid
  if pid=$(service_pid); then
    kill -TERM "$pid"
    for _ in $(seq 1 50); do service_pid >/dev/null || break; sleep 0.2; done
    if service_pid >/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
    log "stopped the service (pid $pid)"
  fi
  rm -f "$PIDFILE" "$SOCKET"
}

install_podman() {
  local pkg missing=0
  for pkg in podman netavark aardvark-dns catatonit curl; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'ok installed' || missing=1
  done
  [ "$missing" = 0 ] && return
  log "installing Debian's podman with netavark, aardvark-dns and catatonit"
  apt-get update -qq
  # netavark + aardvark-dns: Compose's service names resolve through
  # aardvark-dns; the CNI alternative needs plugins Debian splits off.
  # catatonit: the init process for services with `init: true`.
  # Without recommends: buildah, fuse-overlayfs and dbus are not needed.
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    podman netavark aardvark-dns catatonit curl >/dev/null
}

# Limits runc may set in a container: it cannot raise one above what its
# parent holds, as root here lacks CAP_SYS_RESOURCE. Podman's defaults for
# root (nofile and nproc 1048576) are refused ("error setting rlimit type 7:
# operation not permitted"), and Podman lowers its own nproc to 32768.
hard_limit() {
  local value
  value=$(ulimit -H "$1")
  if [ "$value" = unlimited ] || [ "$value" -gt "$2" ]; then value=$2; fi
  echo "$value"
}

write_conf() {
  local nofile nproc tmp
  nofile=$(hard_limit -n 1048576)
  nproc=$(hard_limit -u 32768)
  tmp=$(mktemp)
  cat >"$tmp" <<CONF
# Written by scripts/bootstrap-podman.sh for its Podman API service only
# (passed as CONTAINERS_CONF); other Podman users keep their settings.
[containers]
# Podman's defaults for root exceed the hard limits runc can grant here.
default_ulimits = ["nofile=$nofile:$nofile", "nproc=$nproc:$nproc"]

[network]
# Named explicitly: Debian's package also ships a CNI config whose plugins
# are not installed, and aardvark-dns resolves Compose's service names.
network_backend = "netavark"
# Clear of Docker's default pools (172.17-31.x, 192.168.x) and of the
# 10.254-10.255 addresses the remote-engine test gives a second dockerd.
default_subnet = "10.88.0.0/16"
default_subnet_pools = [{"base" = "10.89.0.0/16", "size" = 24}]

[engine]
# crun 1.8 refuses this machine's hybrid cgroup layout ("cgroups in hybrid
# mode not supported, drop all controllers from cgroupv2"); runc runs.
runtime = "runc"
CONF
  mkdir -p "$STATE_DIR"
  if ! cmp -s "$tmp" "$CONF"; then
    mv "$tmp" "$CONF"
    # A running service read the old settings: restart it with these.
    if service_pid >/dev/null; then
      log "containers.conf changed; restarting the service"
      stop_service
    fi
  else
    rm -f "$tmp"
  fi
}

# A service started from a folder since removed (by an older bootstrap) answers, but starts nothing.
lost_folder() {
  local pid
  pid=$(service_pid) && [[ "$(readlink "/proc/$pid/cwd")" == *" (deleted)" ]]
}

ensure_service() {
  if lost_folder; then
    log "the service's working folder was removed; restarting it"
    stop_service
  fi
  if answers; then return; fi
  mkdir -p "$(dirname "$SOCKET")"
  for _ in $(seq 1 100); do
    if answers; then log "service answers at unix://$SOCKET"; return; fi
    if ! service_pid >/dev/null; then
      # A service killed without a clean shutdown leaves its socket file
      # and pid file; neither may stop the next one from starting.
      rm -f "$SOCKET" "$PIDFILE"
      log "starting podman system service (log: $LOG)"
      # From /: conmon needs the service's working folder, which may be a checkout
      # removed later ("Failed to get working directory", then no container starts).
      (cd / && CONTAINERS_CONF=$CONF exec setsid podman system service --time=0 "unix://$SOCKET") \
        >>"$LOG" 2>&1 </dev/null &
      echo $! >"$PIDFILE"
    fi
    sleep 0.3
  done
  log "the service did not answer within 30 s; see $LOG"
  exit 1
}


if [ "${1:-}" = --stop ]; then
  stop_service
  exit 0
fi

install_podman
write_conf
ensure_service
status=0
for image in "${BASE_IMAGES[@]}" "$@"; do load_image podman_cli "$image" || status=1; done
log "ready: $(DOCKER_HOST=unix://$SOCKET docker version --format 'Podman {{.Server.Version}}, API {{.Server.APIVersion}}')"
echo "export DOCKER_HOST=unix://$SOCKET"
echo "export CONTAINERS_CONF=$CONF  # for the podman CLI: the same settings as the service"
exit "$status"
