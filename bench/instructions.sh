#!/usr/bin/env bash
# The instructions a proxy runs per forwarded call, counted by valgrind's callgrind: the same on every run, where its CPU
# time per call at 1,000 requests/s moves by a third from one minute to the next (docs/performance.md#the-instructions-per-call-2026-12-05-tenth-session).
# A step too small for a paired time measurement (bench/pair.py, about ±5%) shows here to the instruction.
#
# Starts an nginx upstream (1 KiB body) and the target under callgrind with its counting off, warms it with 2,000 calls
# (hey, 16 connections, about 100 requests/s: callgrind runs the target some 50 times slower), counts CALLS more, and
# prints the instructions per call in all, then per function (user space only: the kernel's work is not counted).
#
# Usage: bash bench/instructions.sh [TARGET] [CALLS]   (defaults: agent 2000; run bench/run.sh first for the tools)
#   agent          the NativeAOT agent with its symbols (artifacts/agent-symbols, published as bench/profile.sh does),
#                  /v1/invoke with a static route, the defaults
#   kestrel-core   bench/kestrel --core, the model of the agent's work (published with its symbols into artifacts/kestrel-symbols)
#   kestrel-conn   bench/kestrel --conn, a relay on Kestrel's transport with none of the agent's work
#   nginx          nginx as a proxy (1 worker, keep-alive upstream connections), in one process
# INSTRUCTIONS_KEEP=file keeps callgrind's output for callgrind_annotate (--inclusive=yes, --tree=calling).
set -euo pipefail
cd "$(dirname "$0")/.."
target="${1:-agent}"; calls="${2:-2000}"
case "$target" in agent | kestrel-core | kestrel-conn | nginx) ;; *) echo "usage: bash bench/instructions.sh [agent|kestrel-core|kestrel-conn|nginx] [calls]" >&2; exit 2 ;; esac

. bench/tools.sh
install_missing instructions nginx hey valgrind objcopy=binutils

case "$target" in
  agent)
    binary=artifacts/agent-symbols/agent
    if stale "$binary" agent Directory.Build.props Directory.Packages.props; then
      echo "instructions: publishing the NativeAOT agent with symbols into artifacts/agent-symbols"
      publish_with_symbols agent/Agent.csproj artifacts/agent-symbols
    fi ;;
  kestrel-*)
    binary=artifacts/kestrel-symbols/kestrel
    if stale "$binary" bench/kestrel bench/shared Directory.Build.props Directory.Packages.props; then
      echo "instructions: publishing bench/kestrel with symbols into artifacts/kestrel-symbols"
      publish_with_symbols bench/kestrel/Kestrel.csproj artifacts/kestrel-symbols
    fi ;;
esac

work=$(mktemp -d /tmp/sidecar-instructions-XXXXXX); chmod 755 "$work"
pid=""; upstream=""
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null; [ -n "$upstream" ] && kill "$upstream" 2>/dev/null
  sleep 1; [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null  # a .NET target under callgrind may not finish its stop
  wait 2>/dev/null; rm -rf "$work"
}
trap cleanup EXIT
up=$(free_port); port=$(free_port)
start_upstream "$work" "$up"

# valgrind 3.19 (Debian 12) cannot read the DWARF 5 the .NET compiler writes: the copy it runs keeps the symbol table only.
out="$work/callgrind.out"
grind=(valgrind --tool=callgrind --instr-atstart=no --dump-instr=no "--callgrind-out-file=$out")
case "$target" in
  agent)
    objcopy --strip-debug "$binary" "$work/agent"
    SIDECAR_PORT="$port" ROUTES="bench-upstream=http://127.0.0.1:$up" APP_HEALTH_URL= SIDECAR_DATA_DIR="$work/data" \
      "${grind[@]}" "$work/agent" > "$work/target.log" 2>&1 &
    url="http://127.0.0.1:$port/v1/invoke/bench-upstream/1k" ;;
  kestrel-*)
    objcopy --strip-debug "$binary" "$work/kestrel"
    "${grind[@]}" "$work/kestrel" "$port" "--${target#kestrel-}" "127.0.0.1:$up" > "$work/target.log" 2>&1 &
    path=/1k; [ "$target" = kestrel-core ] && path=/v1/invoke/bench-upstream/1k  # the core routes as the agent does
    url="http://127.0.0.1:$port$path" ;;
  nginx)
    cat > "$work/proxy.conf" <<EOF
master_process off; worker_processes 1; daemon off; pid $work/proxy.pid; error_log $work/proxy-error.log;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 1000000;
  upstream up { server 127.0.0.1:$up; keepalive 64; }
  server { listen 127.0.0.1:$port; location / { proxy_pass http://up; proxy_http_version 1.1; proxy_set_header Connection ""; } } }
EOF
    "${grind[@]}" nginx -c "$work/proxy.conf" -p "$work" > "$work/target.log" 2>&1 &
    url="http://127.0.0.1:$port/1k" ;;
esac
pid=$!

for _ in $(seq 300); do curl -fs -m 5 -o /dev/null "$url" && break; sleep 0.2; done
curl -fs -m 10 -o /dev/null "$url" || { echo "instructions: $target did not answer $url" >&2; tail -5 "$work/target.log" >&2; exit 1; }
hey -n 2000 -c 16 -q 6 "$url" > /dev/null   # warm: connections, pools, caches of the target
callgrind_control -i on "$pid" > /dev/null 2>&1
answered=$(hey -n "$calls" -c 16 -q 6 "$url" | awk '/\[200\]/ {print $2}')
callgrind_control -d "$pid" > /dev/null 2>&1
callgrind_control -i off "$pid" > /dev/null 2>&1
dump=$(ls "$out".* | head -1)
[ "${answered:-0}" -gt 0 ] || { echo "instructions: no call was answered 200" >&2; exit 1; }
[ -n "${INSTRUCTIONS_KEEP:-}" ] && cp "$dump" "$INSTRUCTIONS_KEEP"

python3 - "$dump" "$answered" "$target" <<'EOF'
import re, subprocess, sys
dump, calls, target = sys.argv[1], int(sys.argv[2]), sys.argv[3]
def annotate(inclusive):
    """callgrind_annotate's table: the program's total, and (instructions, function) for each function, most first."""
    text = subprocess.run(["callgrind_annotate", f"--inclusive={'yes' if inclusive else 'no'}", "--threshold=100", dump],
                          capture_output=True, text=True, check=True).stdout
    total = int(re.search(r"^\s*([\d,]+) \S* *PROGRAM TOTALS", text, re.M).group(1).replace(",", ""))
    return total, [(int(m.group(1).replace(",", "")), m.group(2)) for m in re.finditer(r"^\s*([\d,]+) \([^)]*\)\s+\S*?:(\S+)", text, re.M)]
total, self_rows = annotate(False)
print(f"instructions: {target}, {calls} calls answered 200: {total / calls:,.0f} instructions per call (user space)")
own = ("agent_Sidecar_", "kestrel_KestrelAlone_", "kestrel_Bench_", "ngx_")
print("\nits own functions, inclusive (what each runs with its callees), per call:")
for n, name in [r for r in annotate(True)[1] if r[1].startswith(own)][:25]:
    print(f"  {n / calls:>9,.0f}  {name[:150]}")
print("\nevery function, self (its own instructions), per call:")
for n, name in self_rows[:25]:
    print(f"  {n / calls:>9,.0f}  {name[:150]}")
EOF
