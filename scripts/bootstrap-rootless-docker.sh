#!/usr/bin/env bash
# Start a rootless Docker engine for a test user, idempotently; print the
# DOCKER_HOST that reaches it.
#
#   bash scripts/bootstrap-rootless-docker.sh [IMAGE...]   start it (if it is not up), load images
#   bash scripts/bootstrap-rootless-docker.sh --stop       stop the engine this script started
#
# The engine is the same dockerd as the main one, run by an unprivileged user
# through Debian's dockerd-rootless.sh (docker.io's contrib), which puts it in
# a user, mount and network namespace of its own with RootlessKit. Its
# bridges, iptables rules and data live in those namespaces and in the
# user's home: nothing of the main engine is touched. Ports it publishes on
# 127.0.0.1 are forwarded by RootlessKit's port driver from the host's
# 127.0.0.1, so URLs work unchanged. It starts with no images: the stack's
# base images, and any IMAGE named, are copied from the main engine.
# Everything this prints on stdout is shell: eval it, or copy the lines.
set -euo pipefail

ROOTLESS_USER=${TEL3SIS_ROOTLESS_USER:-tel3sis-rootless}
ROOTLESS_HOME=${TEL3SIS_ROOTLESS_HOME:-/var/lib/$ROOTLESS_USER}
CONTRIB=/usr/share/docker.io/contrib/dockerd-rootless.sh
# Host ports this engine gives `127.0.0.1::PORT` publications. RootlessKit
# binds them on the host, but the engine picks them inside its own network
# namespace, blind to the host's listeners: from the default range (the
# host's ephemeral range, 32768-60999, where the main engine picks its own)
# a port the main engine holds fails the container's start ("error while
# calling PortManager.AddPort(): listen tcp4 127.0.0.1:32780: bind: address
# already in use"). A range above the host's ephemeral range avoids both.
PORT_RANGE=${TEL3SIS_ROOTLESS_PORTS:-61000 64999}
# Keep in step with scripts/bootstrap-docker.sh.
BASE_IMAGES=(python:3.11-slim-bookworm redis:7-bookworm)

log() { printf '[rootless] %s\n' "$*" >&2; }

if [ "$(id -u)" != 0 ]; then
  log "needs root (it creates the test user, installs packages and starts the engine as that user)"
  exit 1
fi

# shellcheck source=scripts/lib-load-image.sh
source "$(dirname "$0")/lib-load-image.sh"

ensure_packages() {
  local pkg missing=()
  # rootlesskit: the namespaces; uidmap: newuidmap/newgidmap for the user's
  # subordinate ids; slirp4netns: the network the contrib script picks first;
  # acl: setfacl, to let the user open /dev/net/tun (see ensure_tun); curl:
  # asks the engine's socket whether it answers.
  for pkg in rootlesskit uidmap slirp4netns acl curl; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'ok installed' || missing+=("$pkg")
  done
  if [ ! -x "$CONTRIB" ] || ! command -v dockerd >/dev/null; then
    log "dockerd and $CONTRIB come with docker.io: run scripts/bootstrap-docker.sh first"
    exit 1
  fi
  [ "${#missing[@]}" = 0 ] && return
  log "installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# A free range of 65536 subordinate ids above every range already given out.
next_subid_start() {
  awk -F: 'BEGIN { top = 100000 } { end = $2 + $3; if (end > top) top = end } END { print top }' "$1"
}

ensure_user() {
  if ! id "$ROOTLESS_USER" >/dev/null 2>&1; then
    log "creating user $ROOTLESS_USER (home $ROOTLESS_HOME)"
    useradd --create-home --home-dir "$ROOTLESS_HOME" --shell /usr/sbin/nologin "$ROOTLESS_USER"
  fi
  local file flag start
  for file in /etc/subuid /etc/subgid; do
    [ -e "$file" ] || touch "$file"
    if ! grep -q "^$ROOTLESS_USER:" "$file"; then
      start=$(next_subid_start "$file")
      flag=--add-subuids
      [ "$file" = /etc/subgid ] && flag=--add-subgids
      usermod "$flag" "$start-$((start + 65535))" "$ROOTLESS_USER"
    fi
  done
}

as_user() { setpriv --reuid "$ROOTLESS_USER" --regid "$ROOTLESS_USER" --init-groups "$@"; }

# slirp4netns gives the engine's namespace its network through a TAP device,
# which the user must be able to open. Debian's udev makes /dev/net/tun
# mode 0666; without udev (containers, VMs like this one) it stays 0600 and
# RootlessKit fails with "open: Permission denied" ... "ip tuntap add name
# tap0 mode tap ... exit status 1". An ACL lets this one user open it,
# leaving the device's mode as it is.
ensure_tun() {
  if as_user sh -c ': <>/dev/net/tun' 2>/dev/null; then return; fi
  log "letting $ROOTLESS_USER open /dev/net/tun (ACL)"
  setfacl -m "u:$ROOTLESS_USER:rw" /dev/net/tun
}

USER_ID=$(id -u "$ROOTLESS_USER" 2>/dev/null || echo 0)
RUNTIME_DIR=/run/user/$USER_ID
SOCKET=$RUNTIME_DIR/docker.sock
PIDFILE=$ROOTLESS_HOME/rootlesskit.pid
WRAPPER=$ROOTLESS_HOME/dockerd-in-namespace.sh
LOG=$ROOTLESS_HOME/dockerd.log

rootless_docker() { DOCKER_HOST=unix://$SOCKET docker "$@"; }
answers() { timeout 5 curl -fsS --unix-socket "$SOCKET" http://rootless/_ping >/dev/null 2>&1; }

# The pid of the RootlessKit that runs our engine, if it is alive.
engine_pid() {
  local pid
  pid=$(cat "$PIDFILE" 2>/dev/null) || return 1
  [ -n "$pid" ] && grep -q rootlesskit "/proc/$pid/cmdline" 2>/dev/null || return 1
  [ "$(ps -o stat= -p "$pid" 2>/dev/null | cut -c1)" != Z ] || return 1
  echo "$pid"
}

# Whether the process we started is alive, whatever it runs yet: it is setsid,
# then setpriv, env and the contrib script before it execs RootlessKit, and on
# a busy machine the engine may be asked before that.
started_alive() {
  local pid
  pid=$(cat "$PIDFILE" 2>/dev/null) && [ -n "$pid" ] && [ -d "/proc/$pid" ] || return 1
  [ "$(ps -o stat= -p "$pid" 2>/dev/null | cut -c1)" != Z ]
}

stop_engine() {
  local pid
  if pid=$(engine_pid); then
    # RootlessKit passes SIGTERM on to dockerd, which shuts down cleanly.
    kill -TERM "$pid"
    for _ in $(seq 1 100); do engine_pid >/dev/null || break; sleep 0.3; done
    if engine_pid >/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
    log "stopped the engine (rootlesskit pid $pid)"
  fi
  rm -f "$PIDFILE"
}

# Leftovers of an engine killed without a clean shutdown: its processes
# (a killed RootlessKit takes dockerd and containerd with it, but each
# container's shim, run as the user, and the container's processes, run as
# the user's subordinate ids, live on), pid files and sockets. Only processes
# of this user and of its subordinate ids are ended, by pid.
clean_after_kill() {
  local pids range
  range=$(awk -F: -v u="$ROOTLESS_USER" '$1 == u { print $2, $2 + $3; exit }' /etc/subuid)
  # Zombies are dead already (nothing here reaps them).
  pids=$(ps -e -o pid=,uid=,stat= | awk -v uid="$USER_ID" -v range="$range" '
    BEGIN { split(range, r, " ") }
    $3 !~ /^Z/ && ($2 == uid || ($2 >= r[1] && $2 < r[2])) { print $1 }')
  if [ -n "$pids" ]; then
    log "ending what is left of an earlier engine: pids $(echo "$pids" | tr '\n' ' ')"
    # shellcheck disable=SC2086
    kill -KILL $pids 2>/dev/null || true
    sleep 0.5
  fi
  rm -rf "$RUNTIME_DIR/docker.sock" "$RUNTIME_DIR/docker.pid" "$RUNTIME_DIR/docker" \
    "$RUNTIME_DIR/dockerd-rootless" "$PIDFILE"
}

# dockerd-rootless.sh runs $DOCKERD inside RootlessKit's namespaces, where
# the network's port range is its own to set, before dockerd reads it.
write_wrapper() {
  cat >"$WRAPPER" <<WRAPPER
#!/bin/sh
# Written by bootstrap-rootless-docker.sh; runs inside RootlessKit's namespaces.
echo "$PORT_RANGE" >/proc/sys/net/ipv4/ip_local_port_range
exec dockerd "\$@"
WRAPPER
  chmod 0755 "$WRAPPER"
}

start_engine() {
  install -d -m 0700 -o "$ROOTLESS_USER" -g "$ROOTLESS_USER" "$RUNTIME_DIR"
  write_wrapper
  touch "$LOG" && chown "$ROOTLESS_USER:" "$LOG"
  log "starting rootless dockerd as $ROOTLESS_USER (log: $LOG)"
  # setpriv, not su: no login session or PAM is needed, and the environment
  # is exactly this one. dockerd finds its rootless defaults (data root in
  # ~/.local/share/docker, exec root and socket under XDG_RUNTIME_DIR) from
  # the environment RootlessKit sets up.
  # From /: never from a checkout that may be removed while the engine runs on.
  (cd / && exec setsid setpriv --reuid "$ROOTLESS_USER" --regid "$ROOTLESS_USER" --init-groups env -i \
    HOME="$ROOTLESS_HOME" USER="$ROOTLESS_USER" XDG_RUNTIME_DIR="$RUNTIME_DIR" \
    PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin DOCKERD="$WRAPPER" \
    "$CONTRIB" --host "unix://$SOCKET") >>"$LOG" 2>&1 </dev/null &
  echo $! >"$PIDFILE"
}

ensure_engine() {
  if answers; then return; fi
  if ! engine_pid >/dev/null; then
    clean_after_kill
    start_engine
  fi
  for _ in $(seq 1 100); do
    if answers; then log "engine answers at unix://$SOCKET"; return; fi
    if ! started_alive; then
      log "the engine exited; last lines of $LOG:"
      tail -n 15 "$LOG" >&2
      exit 1
    fi
    sleep 0.3
  done
  log "the engine did not answer within 30 s; see $LOG"
  exit 1
}


if [ "${1:-}" = --stop ]; then
  [ "$USER_ID" != 0 ] && stop_engine
  exit 0
fi

ensure_packages
ensure_user
ensure_tun
USER_ID=$(id -u "$ROOTLESS_USER")
RUNTIME_DIR=/run/user/$USER_ID
SOCKET=$RUNTIME_DIR/docker.sock
ensure_engine
status=0
for image in "${BASE_IMAGES[@]}" "$@"; do load_image rootless_docker "$image" || status=1; done
log "ready: $(rootless_docker version --format 'engine {{.Server.Version}}, API {{.Server.APIVersion}}'), $(rootless_docker info --format '{{.SecurityOptions}}')"
echo "export DOCKER_HOST=unix://$SOCKET"
exit "$status"
