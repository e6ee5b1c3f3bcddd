#!/usr/bin/env python3
"""A/B forwarding benchmark of two agent configurations, measured back to back in alternating order
(run it after bench/run.sh, which installs the tools and publishes the NativeAOT agent).

bench/run.sh measures every target in turn, five agents side by side on a machine with two cores (agent-guarded
last in every other round, first in the others): the guarded strategies' cost is read there beside four other
agents' idle work. Here only the upstream (nginx, 1 KiB body) and two agents run, with a static route to it,
and each round measures them in the opposite order of the round before (AB, BA, AB...): max requests/s
(wrk, 1 thread, 16 connections), the agent's CPU seconds per 10,000 requests (from /proc, as
bench.py) and its bytes allocated per request (its /metrics; an older build without
`dotnet_gc_heap_total_allocated_bytes_total` shows none). The ratio B/A is taken per round; its median over the rounds is the figure.

  invoke    /v1/invoke with the defaults (the bench's agent-invoke)
  guarded   the same with every strategy of docs/resilience.md configured, none triggered (the bench's
            agent-guarded): MaxConcurrentRequests=100000, RateLimit=1000000, CircuitBreaker=true,
            Cache=true (the upstream's answers carry no freshness: never stored), HedgeAfter=1s

With --rate R the load is a fixed R requests/s instead (hey, 16 workers): both agents then do the same
work per second whatever else the machine runs, so their CPU per request compares better on a loaded
machine than at full speed, where the batching of reads and writes varies with the throughput.

  sockets   invoke with Forwarding__LeanHttp1=false: SocketsHttpHandler rather than the lean client
            (--a sockets --b invoke measures what the lean client saves)

Usage: ab.py [--rounds N] [--duration S] [--rate R] [--a CONFIG] [--b CONFIG]   (invoke, guarded, unhedged, bulkhead, ratelimit, breaker, cache, hedging, sockets, reqlog-none, gen0-256k, gen0-512k, gen0-1m, gen0-2m, gen0-4m, tp-spin, engines-per-core)
             [--agent-a PATH] [--agent-b PATH]   (two builds of the agent: before/after a change)
"""
import os
import statistics
import sys
import time

sys.argv, ARGS = sys.argv[:1], sys.argv[1:]  # bench.py reads sys.argv at import
import bench  # noqa: E402


def arg(name, default):
    return ARGS[ARGS.index(name) + 1] if name in ARGS else default


ROUNDS = int(arg("--rounds", "6"))
RATE = int(arg("--rate", "0"))
bench.DURATION = int(arg("--duration", "5"))
CONFIGS = {
    "invoke": {},
    "guarded": {"Forwarding__MaxConcurrentRequests": "100000", "Forwarding__RateLimit": "1000000",
                "Forwarding__CircuitBreaker": "true", "Forwarding__Cache": "true", "Forwarding__HedgeAfter": "1s"},
    # Everything but hedging, then one strategy at a time, to find which one costs.
    "unhedged": {"Forwarding__MaxConcurrentRequests": "100000", "Forwarding__RateLimit": "1000000",
                 "Forwarding__CircuitBreaker": "true", "Forwarding__Cache": "true"},
    "bulkhead": {"Forwarding__MaxConcurrentRequests": "100000"},
    "ratelimit": {"Forwarding__RateLimit": "1000000"},
    "breaker": {"Forwarding__CircuitBreaker": "true"},
    "cache": {"Forwarding__Cache": "true"},
    "hedging": {"Forwarding__HedgeAfter": "1s"},
    # The upstream client: SocketsHttpHandler instead of the lean HTTP/1.1 one (docs/performance.md).
    "sockets": {"Forwarding__LeanHttp1": "false"},
    # Every call through Kestrel's pipeline: what the forwarding core saves (docs/performance.md#the-forwarding-core).
    "core-off": {"Forwarding__Core": "false"},
    # No request lines at all (the default logs errors only): what the request log's scope costs.
    "reqlog-none": {"Sidecar__RequestLog": "none"},
    # The gen0 budget (agent/Agent.csproj bakes in 2 MiB): what another one costs, under load or at a fixed rate.
    "gen0-256k": {"DOTNET_GCgen0size": "40000"},
    "gen0-512k": {"DOTNET_GCgen0size": "80000"},
    "gen0-1m": {"DOTNET_GCgen0size": "100000"},
    "gen0-2m": {"DOTNET_GCgen0size": "200000"},
    "gen0-4m": {"DOTNET_GCgen0size": "400000"},
    # The thread pool's workers spinning before they sleep, .NET's default (agent/Agent.csproj bakes in no spinning).
    "tp-spin": {"DOTNET_ThreadPool_UnfairSemaphoreSpinLimit": "70"},
    # One socket engine per core, .NET's own choice with inline completions, instead of the agent's one (docs/performance.md#what-was-tuned).
    "engines-per-core": {"DOTNET_SYSTEM_NET_SOCKETS_THREAD_COUNT": str(os.cpu_count() or 1)},
}


def start_agent(binary, name, upstream, extra):
    port = bench.free_port()
    p = bench.start([binary], {"SIDECAR_PORT": str(port), "ROUTES": f"{bench.SERVICE}=http://127.0.0.1:{upstream}",
                              "APP_HEALTH_URL": "", "APP_NAME": name, "SIDECAR_DATA_DIR": os.path.join(bench.work, name), **extra},
                    name=name)
    url = f"http://127.0.0.1:{port}/v1/invoke/{bench.SERVICE}/1k"
    bench.wait_ok(url, name)
    return bench.Target(name, url, [p.pid], agent=True)


def measure(t):
    meter, allocated = bench.CpuMeter(t.pids), bench.allocated_bytes(t)
    p50 = None
    if RATE:
        bench.RATE, bench.RATE_DURATION = RATE, bench.DURATION
        p50, _, codes, rps, total = bench.hey(t.url)
        failed = sum(n for c, n in codes.items() if c != 200)
    else:
        rps, total, failed = bench.wrk(t.url)
    cpu = meter.seconds() / total * 10_000
    alloc = bench.per_request(bench.allocated_bytes(t), allocated, total)
    t.rounds.append({"rps": rps, "cpu": cpu, "bad": failed, "p50": p50, "alloc": alloc})
    print(f"  {t.name:<10} {rps:>8.0f} rps  {cpu:.3f} CPU s/10k" + (f"  {alloc:.0f} B/req" if alloc is not None else "")
          + (f"  p50 {p50:.2f} ms" if p50 is not None else "")
          + (f"  FAILED {failed}" if failed else ""), flush=True)


def main():
    a_config, b_config = arg("--a", "invoke"), arg("--b", "guarded")
    a_bin, b_bin = arg("--agent-a", bench.AGENT), arg("--agent-b", bench.AGENT)
    try:
        upstream, _ = bench.start_upstream()
        a = start_agent(a_bin, f"a-{a_config}", upstream, CONFIGS[a_config])
        b = start_agent(b_bin, f"b-{b_config}", upstream, CONFIGS[b_config])
        for t in (a, b):
            t.warm()
        print(f"ab: {ROUNDS} rounds of {bench.DURATION}s " + (f"hey runs at {RATE} rps" if RATE else "wrk runs") + f", A = {a_config} ({a_bin}), B = {b_config} ({b_bin}); "
              f"load average {os.getloadavg()[0]:.2f}", flush=True)
        for r in range(ROUNDS):
            print(f"round {r + 1}", flush=True)
            for t in ((a, b) if r % 2 == 0 else (b, a)):
                measure(t)
    finally:
        bench.stop_all()
    rps = [b.rounds[i]["rps"] / a.rounds[i]["rps"] for i in range(ROUNDS)]
    cpu = [b.rounds[i]["cpu"] / a.rounds[i]["cpu"] for i in range(ROUNDS)]
    print(f"B/A rps: median {statistics.median(rps):.3f} (min {min(rps):.3f}, max {max(rps):.3f}); "
          f"CPU per request: median x{statistics.median(cpu):.3f} (min {min(cpu):.3f}, max {max(cpu):.3f}); "
          f"A {statistics.median(r['rps'] for r in a.rounds):.0f} rps, B {statistics.median(r['rps'] for r in b.rounds):.0f} rps; "
          f"load average after {os.getloadavg()[0]:.2f}")
    if all(r["alloc"] is not None for r in a.rounds + b.rounds):
        # Allocations do not move with the machine's load: the firmest figure of an A/B on a shared machine.
        alloc_a, alloc_b = (statistics.median(r["alloc"] for r in t.rounds) for t in (a, b))
        print(f"allocated per request: A {alloc_a:.0f} B, B {alloc_b:.0f} B ({alloc_b - alloc_a:+.0f})")
    if RATE:
        # hey reports latencies in 0.1 ms steps: the difference of the medians, as the bench's "added p50".
        p50 = [b.rounds[i]["p50"] - a.rounds[i]["p50"] for i in range(ROUNDS)]
        print(f"B-A p50 at {RATE} rps: median {statistics.median(p50):+.2f} ms (min {min(p50):+.2f}, max {max(p50):+.2f}); "
              f"A {statistics.median(r['p50'] for r in a.rounds):.2f} ms, B {statistics.median(r['p50'] for r in b.rounds):.2f} ms")
    time.sleep(0.1)


if __name__ == "__main__":
    main()
