#!/bin/sh
# Entrypoint of the local redis stand-in (scripts/bootstrap-docker.sh), doing
# what the official redis image does for the compose files that use it:
# - options alone, or a .conf file first, run redis-server with them;
# - redis-server started as root runs as the redis user instead, after the
#   working directory (/data) is handed to that user;
# - protected mode is off unless a config file sets it. The official image
#   builds Redis with it off, since in Docker only explicitly published ports
#   reach the server; Debian's build has it on, which refuses every client in
#   another container of the stack.
set -e

case "$1" in
  -*|*.conf) set -- redis-server "$@" ;;
esac

if [ "$1" = redis-server ] && [ "$(id -u)" = 0 ]; then
  find . ! -user redis -exec chown redis '{}' +
  exec gosu redis "$0" "$@"
fi

if [ "$1" = redis-server ]; then
  shift
  case "${1:-}" in
    -v|--version|-h|--help|--test-memory|--check-system)
      ;;  # no server starts: pass as given
    ""|--*)
      # No config file: command-line options only. Ours goes first, so an
      # explicit --protected-mode given later still wins.
      set -- --protected-mode no "$@" ;;
    *)
      # A config file comes first; options after it override it, so protected
      # mode is turned off only where the file says nothing of it (a config
      # read from stdin, "-", is taken to say nothing).
      config=$1
      shift
      if [ "$config" != - ] && grep -Eqi '^[[:space:]]*protected-mode[[:space:]]' "$config" 2>/dev/null; then
        set -- "$config" "$@"
      else
        set -- "$config" --protected-mode no "$@"
      fi ;;
  esac
  set -- redis-server "$@"
fi

# The umask a service manager would give Redis, where none was chosen.
if [ "$(umask)" = 0022 ]; then
  umask 0077
fi

exec "$@"
