#!/usr/bin/env python3
"""Writes agent/hot-methods.txt: the methods the agent runs on a forwarded call, for the NativeAOT compiler, which
places them side by side in the binary (agent/Agent.csproj, docs/performance.md#the-hot-methods-side-by-side-2026-12-05-ninth-session).

It publishes the agent with its symbols (artifacts/agent-symbols), starts the bench's peers (the nginx upstream, the dev
registry, the upstream's sidecar) and two agents with the bench's settings (the defaults, and every resilience strategy
configured: their calls go through Kestrel's pipeline), records both with perf while hey loads each way in (/v1/invoke
at 1,000 requests/s and at full load, the forward proxy, the Host form), and lists every function of the agent's binary
that a sample ran or was called from: the first agent's (the forwarding core's path) first, then those only the
guarded agent's (Kestrel's pipeline) ran, each group the most sampled first. The runtime's own functions (the collector, the
allocation helpers) are not the compiler's to place and are left out.

Run it again after a change to the forwarding path: `HotMethodsTests` fails when the list names an agent method the
code no longer has (an async method's state machine is named by its place in its class).

Usage: python3 bench/hot-methods.py [--seconds S]   (S: each load's length, default 6)
"""
import collections
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "artifacts", "agent-symbols")
os.environ["BENCH_AGENT"] = os.path.join(OUT, "agent")
if {"-h", "--help"} & set(sys.argv):
    raise SystemExit(__doc__)
SECONDS = int(sys.argv[sys.argv.index("--seconds") + 1]) if "--seconds" in sys.argv else 6
sys.argv = sys.argv[:1]  # bench.py reads sys.argv at import
import bench  # noqa: E402

LIST = os.path.join(ROOT, "agent", "hot-methods.txt")


def publish():
    print(f"hot-methods: publishing the agent with its symbols into {OUT}", flush=True)
    # bench/tools.sh's publish_with_symbols: a publish that finds the native link up to date copies the binary as last
    # linked, stripped when the last publish stripped it; then it is linked afresh.
    subprocess.run(["bash", "-c", f". bench/tools.sh && publish_with_symbols agent/Agent.csproj {OUT}"], cwd=ROOT, check=True)


def load(url, rate=None, proxy=None, host=None):
    args = ["hey", "-z", f"{SECONDS}s", "-c", str(bench.CONNECTIONS), "-disable-compression"]
    args += ["-q", f"{rate / bench.CONNECTIONS:g}"] if rate else []
    args += ["-x", proxy] if proxy else []
    args += ["-host", host] if host else []
    bench.run(args + [url], f"hey on {url}", SECONDS + 60)


def compiled_functions(binary):
    """The names of the binary's functions (nm), the compiler's among them."""
    out = subprocess.run(["nm", "--defined-only", binary], capture_output=True, text=True, check=True).stdout
    return {parts[2] for parts in (line.split() for line in out.splitlines()) if len(parts) == 3 and parts[1] in "tT"}


def main():
    for tool in ("perf", "hey", "nm"):
        if subprocess.run(["sh", "-c", f"command -v {tool}"], capture_output=True).returncode != 0:
            raise SystemExit(f"hot-methods: {tool} is missing (apt-get install linux-perf hey binutils)")
    publish()
    data = os.path.join(bench.work, "perf.data")
    try:
        upstream, _ = bench.start_upstream()
        registry = bench.start_registry()
        bench.start_upstream_sidecar(registry, upstream)
        port, agent = bench.start_client_agent(registry, "hot-client")
        guarded_port, guarded = bench.start_client_agent(registry, "hot-guarded", {
            "Forwarding__MaxConcurrentRequests": "100000", "Forwarding__RateLimit": "1000000",
            "Forwarding__CircuitBreaker": "true", "Forwarding__Cache": "true", "Forwarding__HedgeAfter": "1s"})
        invoke = f"http://127.0.0.1:{port}/v1/invoke/{bench.SERVICE}/1k"
        load(invoke)  # warm
        recorder = subprocess.Popen(["perf", "record", "-F", "2999", "-g", "-p", f"{agent.pid},{guarded.pid}", "-o", data],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        print(f"hot-methods: recording the agents under load ({6 * SECONDS} s)", flush=True)
        load(invoke, rate=bench.RATE)
        load(invoke)
        load(f"http://{bench.SERVICE}/1k", proxy=f"http://127.0.0.1:{port}")
        load(f"http://{bench.SERVICE}/1k", proxy=f"http://127.0.0.1:{port}", rate=bench.RATE)
        load(f"http://127.0.0.1:{port}/1k", host=bench.SERVICE)
        load(f"http://127.0.0.1:{guarded_port}/v1/invoke/{bench.SERVICE}/1k")
        recorder.send_signal(2)
        recorder.wait(timeout=60)
    finally:
        bench.stop_all()

    binary = os.environ["BENCH_AGENT"]
    script = subprocess.run(["perf", "script", "-i", data, "-F", "pid,ip,sym,dso"], capture_output=True, text=True).stdout
    # Per agent, each sample's chain once per function: the spine of the path (the socket thread's loop, the call's
    # frames) and what it calls count alike.
    counts = {agent.pid: collections.Counter(), guarded.pid: collections.Counter()}
    pid, chain = None, set()
    for line in script.splitlines() + [""]:
        if not line.startswith("\t"):
            if pid in counts:
                counts[pid].update(chain)
            pid, chain = (int(line.split()[0]) if line.strip() else None), set()
            continue
        m = re.match(r"\s*[0-9a-f]+\s+(\S+)\s+\((.*)\)\s*$", line)
        if m and os.path.realpath(m.group(2)) == os.path.realpath(binary):
            chain.add(m.group(1).split("+0x")[0])
    compiled = compiled_functions(binary)
    # The forwarding core's calls first (the first agent's: /v1/invoke, the forward proxy, the Host form), then what
    # only Kestrel's pipeline runs (the guarded agent's), each the most sampled first: the core's path stays packed.
    # The compiler's functions have a double underscore between the type and the method; the runtime's are C or C++.
    hot = []
    for counter in counts.values():
        listed = set(hot)
        hot += [name for name, _ in sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))
                if name in compiled and name not in listed and "__" in name and not name.startswith(("_Z", "Rhp"))]
    if len(hot) < 100:
        raise SystemExit(f"hot-methods: only {len(hot)} functions sampled (is perf allowed to record? perf_event_paranoid)")
    with open(LIST, "w") as f:
        f.write("\n".join(hot) + "\n")
    print(f"hot-methods: {len(hot)} functions written to {os.path.relpath(LIST, ROOT)} "
          f"({sum(1 for n in hot if n.startswith('agent_'))} of the agent's own; {sum(len(c) for c in counts.values())} sampled)")


if __name__ == "__main__":
    main()
