#!/usr/bin/env python3
"""The CPU per call of two proxies loaded at the same time (run it after bench/run.sh, which installs the tools and
publishes the NativeAOT agent and bench/kestrel). docs/performance.md#a-paired-measurement-2026-12-05-eighth-session.

At 1,000 requests/s the same build's CPU per call moves by a third from one minute to the next on a shared machine
(the processor's state, the neighbours' work), so two rows measured one after the other, as bench.py and ab.py do,
compare with a wide spread. Here both proxies take the same load at the same time, each from its own hey, and their
CPU time (each thread's schedstat) is read every second: the ratio B/A of each second is taken under the same
conditions, and the round's figure is the median of those ratios. Each round starts both proxies afresh (in turn
first), since one start can place them better or worse for the whole of its life (an A against A measures within about
5% per round); the median over the rounds is the figure.

  nginx          nginx as in bench.py's nginx row (1 worker, keep-alive upstream connections)
  kestrel-core   bench/kestrel --core, the model of the agent's work (bench.py's kestrel-core row)
  kestrel-conn   bench/kestrel --conn, a relay on Kestrel's transport with none of the agent's work
  floor          bench/floor, the same relay on bare sockets
  CONFIG         an agent with one of bench/ab.py's configurations (invoke, guarded, ...), a static route

Usage: pair.py [--rounds N] [--duration S] [--rate R] [--a TARGET] [--b TARGET] [--agent-a PATH] [--agent-b PATH] [--results FILE] [--split]
  defaults: 6 rounds of 20 s at 1,000 requests/s each, A = nginx, B = invoke
  --split also records both with perf (999 samples a second, DURATION - 2 s of each round) and prints each one's
          kernel and user time per call from those samples, each round's and their medians: perf's own
          interruptions are in both
  --results FILE appends the figure to FILE as a row of its "Paired" table (bench/run.sh: bench/RESULTS.md)
"""
import os
import shutil
import statistics
import subprocess
import sys
import time

sys.argv, ARGS = sys.argv[:1], sys.argv[1:]  # bench.py and ab.py read sys.argv at import
if {"-h", "--help"} & set(ARGS):
    raise SystemExit(__doc__)
import ab  # noqa: E402
import bench  # noqa: E402


def arg(name, default):
    return ARGS[ARGS.index(name) + 1] if name in ARGS else default


ROUNDS = int(arg("--rounds", "6"))
DURATION = int(arg("--duration", "20"))
RATE = int(arg("--rate", "1000"))
PROXIES = ("nginx", "kestrel-core", "kestrel-conn", "floor")
SPLIT = "--split" in ARGS
PERF_HZ = 999
PERF_SECS = max(1, DURATION - 2)  # within hey's run, which goes on a second past the measured ones
KERNEL_IPS = 0xffff800000000000  # x86-64 and arm64 kernel addresses: the upper half


def start_target(kind, binary, upstream, name):
    """The proxy, answering: a bench.Target whose pids are all its processes."""
    if kind == "nginx":
        port, p = bench.start_nginx_proxy(upstream)
        return bench.Target(name, f"http://127.0.0.1:{port}/1k", bench.proc_tree(p.pid)), p
    if kind in ("kestrel-core", "kestrel-conn"):
        port, p, path = bench.start_kestrel(kind.removeprefix("kestrel-"), upstream)
        return bench.Target(name, f"http://127.0.0.1:{port}{path}", [p.pid]), p
    if kind == "floor":
        port, p = bench.start_floor(upstream)
        return bench.Target(name, f"http://127.0.0.1:{port}/1k", [p.pid]), p
    t = ab.start_agent(binary, name, upstream, ab.CONFIGS[kind])
    return t, next(p for p in bench.processes if p.pid == t.pids[0])


def round_ratios(a, b):
    """Both under hey at RATE for DURATION s at once: each second's CPU per call of each; with --split, each one's
    (kernel, user) µs per call from perf's samples."""
    per_worker = RATE / bench.CONNECTIONS
    loads = [subprocess.Popen(["hey", "-z", f"{DURATION + 2}s", "-c", str(bench.CONNECTIONS), "-q", f"{per_worker:g}",
                               "-disable-compression", t.url], stdout=subprocess.DEVNULL) for t in (a, b)]
    try:
        time.sleep(1)  # hey's workers started and at their rate
        perfs = [start_perf(t, PERF_SECS) for t in (a, b)] if SPLIT else []
        seconds = []
        for _ in range(DURATION):
            meters = [bench.CpuMeter(t.pids) for t in (a, b)]
            time.sleep(1)
            cpu_a, cpu_b = (m.seconds() / RATE * 1e6 for m in meters)
            seconds.append((cpu_a, cpu_b))
    finally:
        for load in loads:
            load.wait(timeout=DURATION + 60)
    splits = []
    for perf, data in perfs:
        perf.wait(timeout=60)
        splits.append(split_samples(data, PERF_SECS * RATE))
    return seconds, splits


def start_perf(target, secs):
    """perf recording the target's processes for secs, into a file of its own: (the process, the file)."""
    data = os.path.join(bench.work, f"perf-{target.name}.data")
    perf = subprocess.Popen(["perf", "record", "-q", "-F", str(PERF_HZ), "-p", ",".join(map(str, target.pids)), "-o", data,
                             "--", "sleep", str(secs)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return perf, data


def split_text(split):
    """'; A kernel k, user u µs; B ...' for a round's (or the medians') splits, nothing without --split."""
    return "".join(f"; {name} kernel {k:.1f}, user {u:.1f} µs" for name, (k, u) in zip("AB", split))


def split_samples(data, calls):
    """Kernel and user µs per call from a recording's samples, by their addresses."""
    ips = subprocess.run(["perf", "script", "-i", data, "-F", "ip"], capture_output=True, text=True).stdout.split()
    kernel = sum(1 for ip in ips if int(ip, 16) >= KERNEL_IPS)
    per_call = 1e6 / PERF_HZ / calls
    return kernel * per_call, (len(ips) - kernel) * per_call


def main():
    a_kind, b_kind = arg("--a", "nginx"), arg("--b", "invoke")
    a_bin, b_bin = arg("--agent-a", bench.AGENT), arg("--agent-b", bench.AGENT)
    if SPLIT and not shutil.which("perf"):
        raise SystemExit("pair: --split needs perf (Debian's linux-perf)")
    for kind in (a_kind, b_kind):
        if kind not in PROXIES and kind not in ab.CONFIGS:
            raise SystemExit(f"pair: unknown target {kind!r}: {', '.join(PROXIES)} or one of {', '.join(ab.CONFIGS)}")
    figures, splits = [], []
    try:
        upstream, _ = bench.start_upstream()
        print(f"pair: {ROUNDS} rounds of {DURATION} s, both at {RATE} requests/s at once; A = {a_kind}, B = {b_kind}; "
              f"load average {os.getloadavg()[0]:.2f}", flush=True)
        for r in range(ROUNDS):
            specs = [(a_kind, a_bin, "a"), (b_kind, b_bin, "b")]
            started = {name: start_target(kind, binary, upstream, f"{name}-{kind}") for kind, binary, name in (specs if r % 2 == 0 else specs[::-1])}
            (a, pa), (b, pb) = started["a"], started["b"]
            time.sleep(3)  # past the agent's start-up work (its collection 2 s after it is ready: docs/performance.md#what-was-tuned)
            for t in (a, b):
                t.warm()
            seconds, split = round_ratios(a, b)
            for p in (pa, pb):
                p.terminate()
                p.wait(timeout=20)
            ratios = [cb / ca for ca, cb in seconds]
            figure = (statistics.median(ratios), statistics.median(ca for ca, _ in seconds), statistics.median(cb for _, cb in seconds))
            figures.append(figure)
            print(f"round {r + 1} ({'A' if r % 2 == 0 else 'B'} started first): A {figure[1]:.1f} µs, B {figure[2]:.1f} µs per call; "
                  f"B/A x{figure[0]:.3f} (seconds {min(ratios):.3f}-{max(ratios):.3f})" + split_text(split), flush=True)
            if split:
                splits.append(split)
    finally:
        bench.stop_all()
    ratios = sorted(f[0] for f in figures)
    a_us, b_us = statistics.median(f[1] for f in figures), statistics.median(f[2] for f in figures)
    print(f"B/A CPU per call at {RATE} requests/s, both at once: median x{statistics.median(ratios):.3f} "
          f"(rounds {ratios[0]:.3f}-{ratios[-1]:.3f}); A {a_us:.1f} µs, B {b_us:.1f} µs; load average after {os.getloadavg()[0]:.2f}")
    if splits:
        medians = [tuple(statistics.median(r[t][i] for r in splits) for i in (0, 1)) for t in (0, 1)]
        print("perf, medians of the rounds:" + split_text(medians).removeprefix(";"))
    if results := arg("--results", None):
        write_result(results, a_kind, b_kind, statistics.median(ratios), ratios, a_us, b_us)


def write_result(path, a_kind, b_kind, ratio, ratios, a_us, b_us):
    """The figure as a row of the file's "Paired" table, the table begun when the file has none."""
    with open(path) as f:
        text = f.read()
    header = "\n".join([
        "", f"Paired (`bench/pair.py`, {time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC: A and B each under hey at {RATE} requests/s at the same time, {ROUNDS} rounds of {DURATION} s, "
        "each round's figure the median of its per-second CPU ratios, fresh processes each round; an agent against itself measures "
        "within about 5%; docs/performance.md#a-paired-measurement-2026-12-05-eighth-session):", "",
        f"| A | B | B/A CPU per call at {RATE} rps | rounds | A µs | B µs |", "|---|---|---|---|---|---|"])
    row = f"| {a_kind} | {b_kind} | {ratio:.2f} | {ratios[0]:.2f}–{ratios[-1]:.2f} | {a_us:.1f} | {b_us:.1f} |"
    with open(path, "a") as f:
        f.write(("" if "\nPaired (`bench/pair.py`" in text else header + "\n") + row + "\n")


if __name__ == "__main__":
    main()
