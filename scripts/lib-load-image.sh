# shellcheck shell=bash
# Sourced by the second-engine bootstraps (Podman, rootless Docker): copy an
# image from the main Docker engine into another engine's store.
#
# Usage: load_image TARGET_CLI IMAGE, where TARGET_CLI is a shell function that
# runs the docker-compatible CLI against that engine; `log` must be defined.
# Nothing is copied when the engine already holds the same image (same ID).

main_docker() { env -u DOCKER_HOST docker "$@"; }

load_image() {
  local target=$1 image=$2 want have
  want=$(main_docker image inspect -f '{{.Id}}' "$image" 2>/dev/null) || {
    log "the main Docker engine has no $image; skipped (run scripts/bootstrap-docker.sh, or build it)"
    return 1
  }
  have=$("$target" image inspect -f '{{.Id}}' "$image" 2>/dev/null || true)
  # Podman reports IDs without the sha256: prefix.
  if [ "$have" = "$want" ] || [ "sha256:$have" = "$want" ]; then return; fi
  log "loading $image"
  main_docker save "$image" | "$target" load -q >/dev/null
  # The version it replaces, now untagged: drop it unless a container uses it.
  if [ -n "$have" ]; then "$target" image rm "$have" >/dev/null 2>&1 || true; fi
}
