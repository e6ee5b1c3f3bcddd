#!/usr/bin/env bash
# Where the agent's CPU goes while it forwards at full load: publishes the NativeAOT agent with its
# symbols (artifacts/agent-symbols), starts an nginx upstream (1 KiB body) and the agent with a
# static route to it, loads /v1/invoke with wrk and records the agent with perf. Prints the CPU per
# request, the top functions and the share of each area (kernel, Kestrel, HttpClient, ...).
# Usage: [PROFILE_AGENT_DIR=dir] [PROFILE_KEEP=file] bash bench/profile.sh [seconds] [VAR=value ...]   (extra variables go to the agent;
# PROFILE_KEEP keeps the recording, with call graphs, for perf report or perf script)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-6}"; shift || true

. bench/tools.sh
install_missing profile nginx wrk perf=linux-perf

# PROFILE_AGENT_DIR=dir profiles an agent published there instead (an A/B against an older build); no republish then.
out="${PROFILE_AGENT_DIR:-artifacts/agent-symbols}"
if [ -z "${PROFILE_AGENT_DIR:-}" ] && stale "$out/agent" agent Directory.Build.props Directory.Packages.props; then
  echo "profile: publishing the NativeAOT agent with symbols into $out"
  publish_with_symbols agent/Agent.csproj "$out"
fi

work=$(mktemp -d /tmp/sidecar-profile-XXXXXX); chmod 755 "$work"
up=$(free_port); port=$(free_port)
start_upstream "$work" "$up"
env SIDECAR_PORT="$port" ROUTES="up=http://127.0.0.1:$up" APP_HEALTH_URL= "$@" "$out/agent" > "$work/agent.log" 2>&1 & agent=$!
cleanup() { kill "$agent" "$upstream" 2>/dev/null || true; wait "$agent" "$upstream" 2>/dev/null || true
  if [ -n "${PROFILE_KEEP:-}" ]; then cp "$work/perf.data" "$PROFILE_KEEP" 2>/dev/null || true; fi; rm -rf "$work"; }
trap cleanup EXIT

url="http://127.0.0.1:$port/v1/invoke/up/1k"
for _ in $(seq 600); do curl -fs -o /dev/null "$url" && break; sleep 0.05; done   # a loaded machine starts it slower
wrk -t1 -c16 -d2s "$url" >/dev/null   # warm-up

ticks() { awk '{print $14 + $15}' "/proc/$agent/stat"; }
perf record -F 999 -g -p "$agent" -o "$work/perf.data" -- sleep "$seconds" >/dev/null 2>&1 &
recorder=$!
before=$(ticks)
result=$(wrk -t1 -c16 -d"${seconds}s" "$url")
after=$(ticks)
wait "$recorder" || true
requests=$(echo "$result" | awk '/requests in/ {print $1}')
echo "$result" | grep -E "Requests/sec|Non-2xx" || true
awk -v t=$((after - before)) -v n="$requests" -v hz="$(getconf CLK_TCK)" \
  'BEGIN { printf "agent CPU: %.1f us per request (perf running: add a few percent)\n", t / hz / n * 1e6 }'

perf report -i "$work/perf.data" --no-children --sort symbol --stdio -g none 2>/dev/null | grep '%' > "$work/flat.txt"
echo; echo "top functions (self time):"
head -25 "$work/flat.txt" | awk '{ $2 = ""; print }' | cut -c1-150
echo; echo "by area (self time, % of the agent's samples):"
share() { { grep -E "$2" "$work/flat.txt" || true; } | awk -v name="$1" '{ s += $1 } END { printf "  %-28s %5.1f%%\n", name, s }'; }
share "kernel" '\[k\]'
share "Kestrel + ASP.NET Core" 'Microsoft_AspNetCore'
share "HttpClient (System.Net.Http)" 'System_Net_Http'
share "sockets" 'System_Net_Sockets'
share "Uri" 'S_P_Uri'
share "Polly" 'Polly_Core'
share "the agent's own code" 'agent_Sidecar_(Forwarding|Hosting|Discovery|Health)'
share "metrics and tracing" 'agent_Sidecar_Observability|OpenTelemetry'
share "logging" 'Serilog|Extensions_Logging'
share "GC" 'gc_heap|WKS::'
share "runtime helpers" '\] (Rhp|RhBulk|RhSpin|RhNew)'
share "CoreLib (async, collections)" 'S_P_CoreLib'
