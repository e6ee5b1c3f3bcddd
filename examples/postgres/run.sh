#!/usr/bin/env bash
# A real PostgreSQL under its agent (`agent run`), registered in Eureka as `postgres` with a TCP health
# check (APP_HEALTH_URL=tcp://127.0.0.1:$PG_PORT): UP while it accepts connections, DOWN when it stops.
# Other services reach it by name through a TCP listener of their own agent (SIDECAR_TCP_LISTENERS).
#
#   EUREKA_URLS=http://127.0.0.1:8761/eureka/ SIDECAR_PORT=8079 examples/postgres/run.sh
#
# Environment: PG_PORT (5432), PGDATA (a new cluster in a temporary folder; an existing one is reused),
# PG_LISTEN (127.0.0.1; * in a pod, with APP_IP the pod IP), AGENT (how to run the agent; default:
# dotnet run --project agent --), and any agent variable (EUREKA_URLS, SIDECAR_PORT, APP_NAME, APP_IP...).
# Stop it with Ctrl-C or SIGTERM to the agent.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
PG_PORT=${PG_PORT:-5432}
PG_LISTEN=${PG_LISTEN:-127.0.0.1}
AGENT=${AGENT:-dotnet run --project $here/../../agent --}
data=${PGDATA:-$(mktemp -d "${TMPDIR:-/tmp}/sidecar-pg-XXXXXX")/data}
mkdir -p "$(dirname "$data")"

# The server's programs: on PATH, else the newest of Debian's /usr/lib/postgresql/*/bin.
if command -v postgres >/dev/null && command -v initdb >/dev/null; then
  bin=$(dirname "$(command -v postgres)")
else
  bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  [ -x "$bin/postgres" ] || { echo "examples/postgres: PostgreSQL is not installed (apt-get install -y postgresql)" >&2; exit 1; }
fi

# PostgreSQL refuses to run as root: as root, the cluster belongs to the package's postgres user.
as_owner=()
if [ "$(id -u)" -eq 0 ]; then
  user=postgres
  id -u "$user" >/dev/null 2>&1 || user=nobody
  as_owner=(setpriv --reuid="$user" --regid="$(id -g "$user")" --init-groups --)
  chown "$user:" "$(dirname "$data")"
fi

if [ ! -f "$data/PG_VERSION" ]; then
  "${as_owner[@]}" "$bin/initdb" -D "$data" -U postgres -A trust -E UTF8 --no-sync >/dev/null
fi

export APP_NAME=${APP_NAME:-postgres}
export APP_PORT=$PG_PORT
export APP_HEALTH_URL=tcp://127.0.0.1:$PG_PORT
# Registered where it listens: loopback for a one-machine demo; set APP_IP (and PG_LISTEN=*) otherwise.
[ "$PG_LISTEN" = 127.0.0.1 ] && export APP_IP=${APP_IP:-127.0.0.1}

# PostgreSQL's SIGTERM is a "smart" shutdown that waits for every client to leave; the agent sends
# SIGTERM to its app. The small wrapper turns it into SIGINT, a fast shutdown (what the official
# image's STOPSIGNAL does), and exits with the server's code.
# shellcheck disable=SC2016,SC2086
exec $AGENT run -- bash -c '
  trap "kill -INT \$pid 2>/dev/null" TERM INT
  "$@" & pid=$!
  wait $pid; code=$?
  if kill -0 $pid 2>/dev/null; then wait $pid; code=$?; fi
  exit $code' postgres \
  "${as_owner[@]}" "$bin/postgres" -D "$data" -p "$PG_PORT" -k "$(dirname "$data")" -c listen_addresses="$PG_LISTEN"
