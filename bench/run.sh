#!/usr/bin/env bash
# Side-by-side benchmark on this machine: direct, nginx, haproxy, the floor (bench/floor), Kestrel alone and the three
# forwarders on Kestrel (bench/kestrel), and the agent (NativeAOT) in its
# /v1/invoke and forward-proxy forms, with discovery from the dev registry. Prints one table and
# writes it to bench/RESULTS.md, then (a full run) measures the agent and kestrel-core paired with nginx (bench/pair.py). Usage: bash bench/run.sh [--quick] [--rounds N] [--rows NAME,...] [--tcp-only | --grpc-only]
set -euo pipefail
cd "$(dirname "$0")/.."

. bench/tools.sh
install_missing bench nginx haproxy wrk hey

# The TCP row needs redis-server and redis-benchmark (redis-tools); it is left out when they cannot be installed.
if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-benchmark >/dev/null 2>&1; then
  sudo_cmd=""; [ "$(id -u)" = 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get install -y redis-server redis-tools >/dev/null 2>&1 || echo "bench: no redis-server/redis-benchmark: the TCP row is skipped"
fi

# The gRPC row needs h2load (nghttp2-client) and the grpc-js packages of examples/node-grpc; it is left out without them.
if ! command -v h2load >/dev/null 2>&1; then
  sudo_cmd=""; [ "$(id -u)" = 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get install -y nghttp2-client >/dev/null 2>&1 || echo "bench: no h2load (nghttp2-client): the gRPC row is skipped"
fi
if command -v npm >/dev/null 2>&1 && [ ! -d examples/node-grpc/node_modules/@grpc/grpc-js ]; then
  npm ci --prefix examples/node-grpc --no-audit --no-fund >/dev/null 2>&1 || echo "bench: npm ci failed in examples/node-grpc: the gRPC row is skipped"
fi

# Republish when a source or project file is newer than the binary (generated files under obj/ do not count).
if stale artifacts/agent/agent agent Directory.Build.props Directory.Packages.props; then
  echo "bench: publishing the NativeAOT agent (.ci/publish)"
  bash .ci/publish artifacts/agent >/dev/null
fi

# The floor row (bench/floor, docs/performance.md#the-floor-of-this-stack): a benchmark-only reference, published
# beside the agent; the row is skipped when the publish fails.
if [ ! -x artifacts/floor/floor ] || [ -n "$(find bench/floor bench/shared \( -path bench/floor/obj -o -path bench/floor/bin \) -prune -o \( -name '*.cs' -o -name '*.csproj' \) -newer artifacts/floor/floor -print -quit)" ]; then
  echo "bench: publishing the floor (bench/floor)"
  rid="linux-$(uname -m | sed -e 's/x86_64/x64/' -e 's/aarch64/arm64/')"
  dotnet publish bench/floor/Floor.csproj -c Release -r "$rid" -o artifacts/floor -p:DebugType=none -p:DebugSymbols=false >/dev/null || echo "bench: the floor did not publish: its row is skipped"
fi

# The kestrel rows (bench/kestrel, docs/performance.md#kestrel-alone): Kestrel answering 1 KiB itself, and in its
# --proxy, --conn and --core modes the kestrel-proxy, kestrel-conn and kestrel-core rows (docs/performance.md#forwarders-on-kestrel,
# #a-forwarding-core-below-kestrels-http-layer), likewise.
if [ ! -x artifacts/kestrel/kestrel ] || [ -n "$(find bench/kestrel bench/shared \( -path bench/kestrel/obj -o -path bench/kestrel/bin \) -prune -o \( -name '*.cs' -o -name '*.csproj' \) -newer artifacts/kestrel/kestrel -print -quit)" ]; then
  echo "bench: publishing Kestrel alone (bench/kestrel)"
  rid="linux-$(uname -m | sed -e 's/x86_64/x64/' -e 's/aarch64/arm64/')"
  dotnet publish bench/kestrel/Kestrel.csproj -c Release -r "$rid" -o artifacts/kestrel -p:DebugType=none -p:DebugSymbols=false >/dev/null || echo "bench: bench/kestrel did not publish: its rows are skipped"
fi

python3 bench/bench.py "$@"

# A full run also measures the CPU target's ratio paired: nginx and the proxy under the same load at the same time
# (docs/performance.md#a-paired-measurement-2026-12-05-eighth-session), appended to bench/RESULTS.md.
case " $* " in *" --rows "* | *" --tcp-only "* | *" --grpc-only "*) exit 0 ;; esac
pair_args=()
case " $* " in *" --quick "*) pair_args=(--rounds 4 --duration 15) ;; esac
for target in invoke kestrel-core; do
  [ "$target" = kestrel-core ] && [ ! -x artifacts/kestrel/kestrel ] && continue  # bench/kestrel did not publish
  python3 bench/pair.py --a nginx --b "$target" "${pair_args[@]}" --results bench/RESULTS.md
done
