#!/usr/bin/env python3
"""Side-by-side forwarding benchmark (run it through bench/run.sh, which installs the tools and
publishes the NativeAOT agent).

Targets, all on loopback, with a 1 KiB static body served by nginx as the upstream:
  direct        the upstream itself
  nginx         nginx as reverse proxy (1 worker, keep-alive upstream connections)
  haproxy       haproxy (1 thread, http-reuse always)
  floor         bench/floor: ~120 lines of C# on Socket, NativeAOT, inline completions, one upstream
                connection per client connection, responses framed by Content-Length only; what .NET's
                sockets reach with nothing else in the way (a reference, not a proxy to use)
  kestrel       bench/kestrel: Kestrel answering 1 KiB from memory with the agent's server settings; not a
                proxy: what Kestrel's side of every forwarded call costs (compare its CPU with nginx's)
  kestrel-proxy bench/kestrel --proxy: Kestrel's whole HTTP server with the least possible forwarder in its
                request delegate (GET, the head written by hand, pooled upstream sockets, Content-Length
                framing): what any forwarder on Kestrel's HTTP layer costs at least (a reference)
  kestrel-conn  bench/kestrel --conn: Kestrel's socket transport and pipes only, a connection middleware
                relaying heads to one upstream socket per connection like the floor: what a proxy on
                Kestrel's transport costs without its HTTP layer (a reference)
  kestrel-core  bench/kestrel --core: kestrel-conn's place with a model of the agent's default work per call
                (/v1/invoke/{service}/1k: head parsed and checked, routed, an instance picked, a deadline,
                the proxy's header rules both ways, pooled upstream connections, the call counted) written
                tight below HttpContext: what a forwarding core of the agent's own could cost (a reference)
  agent-invoke  the agent's /v1/invoke/{service}/1k with its defaults (retries and ejection on,
                request lines for errors only), the service discovered from the dev registry
                (`agent registry`) where an upstream sidecar registered the nginx upstream
  agent-proxy   the same agent used as a forward proxy (HTTP_PROXY: `GET http://{service}/1k`)
  agent-plain   /v1/invoke on a second agent with retries and ejection off
                (Forwarding__Retries=0, Forwarding__EjectionFailures=0)
  agent-logall  /v1/invoke on a third agent that logs every request (Sidecar__RequestLog=all; the
                default logs errors only), to show what a line per request costs

Each round measures every target in turn, every other round in the opposite order: max requests/s (wrk, 1 thread, 16 connections, with the
proxy's CPU per request and its peak RSS) and latency at a fixed 1,000 rps (hey, 16 workers at
62.5 rps each), with the proxy's CPU per request at that rate (its threads' run time before and after, CpuMeter). The machine has 2 cores shared with other work: only ratios taken in
the same round mean much, so the table shows the median over the rounds and the spread. Start-up
is a standalone agent's time from exec to a first /ping 200. Results: stdout and bench/RESULTS.md.

A TCP row follows when redis-server and redis-benchmark are installed: redis-benchmark (GET and SET,
16 connections) against redis-server directly, through the agent's TCP listener, and through haproxy
in `mode tcp`.

A gRPC row follows when h2load (nghttp2-client) and the packages of examples/node-grpc are installed:
unary greeter.Greeter/SayHello calls (h2load: one connection, 16 concurrent streams, the request read
from a file with its 5-byte gRPC prefix) against the example's grpc-js server directly, and through the
agent's gRPC port (SIDECAR_GRPC_PORT) with the service named by :authority.

Usage: bench.py [--quick] [--rounds N] [--rows NAME,NAME...] [--tcp-only] [--grpc-only]
  --rows measures only the rows named (direct and nginx always, the references of every ratio), prints their table
  and writes no bench/RESULTS.md: a reduced run to compare a few rows with more rounds.
"""
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from datetime import datetime, timezone

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
AGENT = os.environ.get("BENCH_AGENT", os.path.join(ROOT, "artifacts", "agent", "agent"))
FLOOR = os.path.join(ROOT, "artifacts", "floor", "floor")
KESTREL = os.path.join(ROOT, "artifacts", "kestrel", "kestrel")
QUICK = "--quick" in sys.argv
ROUNDS = int(sys.argv[sys.argv.index("--rounds") + 1]) if "--rounds" in sys.argv else (1 if QUICK else 3)
ROWS = set(sys.argv[sys.argv.index("--rows") + 1].split(",")) | {"direct", "nginx"} if "--rows" in sys.argv else None
DURATION = 4 if QUICK else 8
RATE_DURATION = 5 if QUICK else 10
CONNECTIONS = 16
RATE = 1000
SERVICE = "bench-upstream"
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_KB = os.sysconf("SC_PAGE_SIZE") / 1024

# Targets of the performance issue (docs/performance.md#where-the-targets-stand), for the AOT build on
# this machine, against nginx in the same run: max rps, CPU per request at 1,000 rps, added p50.
TARGET_STARTUP_MS = 100
TARGET_IDLE_MB = 30
TARGET_RPS_VS_NGINX = 0.95
TARGET_CPU_VS_NGINX = 1.2
TARGET_ADDED_P50_OVER_NGINX_MS = 0.1

processes = []
work = tempfile.mkdtemp(prefix="sidecar-bench-")
os.chmod(work, 0o755)  # nginx workers run as another user when started as root


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(args, env=None, name=""):
    log = open(os.path.join(work, f"{name or os.path.basename(args[0])}.log"), "w")
    p = subprocess.Popen(args, env={**os.environ, **(env or {})}, stdout=log, stderr=subprocess.STDOUT)
    processes.append(p)
    return p


def stop_all():
    for p in reversed(processes):
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in reversed(processes):
        try:
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def run(args, what, timeout, check=True):
    """A measuring tool's run, bounded: a step that hangs (a peer that never answers) fails with a message instead."""
    try:
        return subprocess.run(args, capture_output=True, text=True, check=check, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise SystemExit(f"bench: {what} did not finish within {timeout} s ({' '.join(args[:3])}...); logs in {work}")
    except subprocess.CalledProcessError as e:
        raise SystemExit(f"bench: {what} failed with exit code {e.returncode}: {(e.stderr or e.stdout or '').strip()[:300]}; logs in {work}")


def get(url, host=None, proxy=None, timeout=2):
    request = urllib.request.Request(url, headers={"Host": host} if host else {})
    handlers = [urllib.request.ProxyHandler({"http": proxy} if proxy else {})]
    with urllib.request.build_opener(*handlers).open(request, timeout=timeout) as r:
        return r.status, r.read()


def wait_ok(url, what, proxy=None, timeout=60):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        try:
            if get(url, proxy=proxy)[0] == 200:
                return
        except Exception as e:  # noqa: BLE001 - anything means "not yet"
            last = e
        time.sleep(0.05)
    raise SystemExit(f"bench: {what} never answered 200 at {url} ({last}); logs in {work}")


# ---------------------------------------------------------------- the peers

def start_upstream():
    port = free_port()
    root = os.path.join(work, "www")
    os.makedirs(root)
    os.chmod(root, 0o755)
    with open(os.path.join(root, "1k"), "wb") as f:
        f.write(b"x" * 1024)
    os.chmod(os.path.join(root, "1k"), 0o644)
    conf = os.path.join(work, "upstream.conf")
    with open(conf, "w") as f:
        f.write(f"""
worker_processes 1; daemon off; pid {work}/upstream.pid; error_log {work}/upstream-error.log;
events {{ worker_connections 4096; }}
http {{ access_log off; keepalive_requests 1000000;
  server {{ listen 127.0.0.1:{port}; root {root}; location / {{ }} }} }}
""")
    p = start(["nginx", "-c", conf, "-p", work], name="upstream")
    wait_ok(f"http://127.0.0.1:{port}/1k", "the upstream")
    return port, p


def start_nginx_proxy(upstream):
    port = free_port()
    conf = os.path.join(work, "proxy.conf")
    with open(conf, "w") as f:
        f.write(f"""
worker_processes 1; daemon off; pid {work}/proxy.pid; error_log {work}/proxy-error.log;
events {{ worker_connections 4096; }}
http {{ access_log off; keepalive_requests 1000000;
  upstream up {{ server 127.0.0.1:{upstream}; keepalive 64; }}
  server {{ listen 127.0.0.1:{port};
    location / {{ proxy_pass http://up; proxy_http_version 1.1; proxy_set_header Connection ""; }} }} }}
""")
    p = start(["nginx", "-c", conf, "-p", work], name="nginx-proxy")
    wait_ok(f"http://127.0.0.1:{port}/1k", "nginx")
    return port, p


def start_haproxy_process(upstream, mode, name, timeout, extra=""):
    """haproxy with one thread between 127.0.0.1:{port} and the upstream, in http or tcp mode."""
    port = free_port()
    conf = os.path.join(work, f"{name}.cfg")
    with open(conf, "w") as f:
        f.write(f"""
global
  nbthread 1
  maxconn 4096
defaults
  mode {mode}
  timeout connect 5s
  timeout client {timeout}
  timeout server {timeout}
{extra}frontend fe
  bind 127.0.0.1:{port}
  default_backend be
backend be
  server s1 127.0.0.1:{upstream}
""")
    return port, start(["haproxy", "-f", conf, "-db"], name=name)


def start_haproxy(upstream):
    port, p = start_haproxy_process(upstream, "http", "haproxy", "30s", "  http-reuse always\n")
    wait_ok(f"http://127.0.0.1:{port}/1k", "haproxy")
    return port, p


def start_floor(upstream):
    """bench/floor on port 0; its first line names the port (docs/performance.md#the-floor-of-this-stack)."""
    p = start([FLOOR, "0", f"127.0.0.1:{upstream}"], env={"DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS": "1"}, name="floor")
    port = port_in_log("floor", p, r"floor listening on 127\.0\.0\.1:(\d+)")
    wait_ok(f"http://127.0.0.1:{port}/1k", "the floor")
    return port, p


def start_kestrel(mode=None, upstream=None):
    """bench/kestrel on port 0, alone or in its --proxy, --conn or --core mode; its first line names the port
    (docs/performance.md#kestrel-alone, #forwarders-on-kestrel); the path of its 1 KiB answer."""
    name = f"kestrel-{mode}" if mode else "kestrel"
    p = start([KESTREL, "0"] + ([f"--{mode}", f"127.0.0.1:{upstream}"] if mode else []), name=name)
    port = port_in_log(name, p, r"kestrel listening on 127\.0\.0\.1:(\d+)")
    path = f"/v1/invoke/{SERVICE}/1k" if mode == "core" else "/1k"  # the core routes as the agent does (CoreMode.cs)
    wait_ok(f"http://127.0.0.1:{port}{path}", name)
    return port, p, path


def start_registry():
    port = free_port()
    start([AGENT, "registry", "--port", str(port)], name="registry")
    wait_ok(f"http://127.0.0.1:{port}/eureka/apps/", "the dev registry")
    return port


# Every agent runs with the registry's default intervals (a fetch and a heartbeat every 30 s), as users run it. The
# clients start once the registry lists the upstream UP, so their first fetch, at start, finds it: no faster refresh
# is needed to start soon. (Until 2026-12-05 every agent fetched and renewed each second, which cost the measured
# agent about 1.4 ms of CPU a second, 1.4 µs per call at 1,000 requests/s: docs/performance.md#the-benchs-registry-traffic-2026-12-05-eighth-session.)
def start_upstream_sidecar(registry, upstream):
    port = free_port()
    start([AGENT], {"SIDECAR_PORT": str(port), "APP_NAME": SERVICE, "APP_PORT": str(upstream),
                    "APP_HEALTH_URL": f"http://127.0.0.1:{upstream}/1k",
                    "EUREKA_URLS": f"http://127.0.0.1:{registry}/eureka/", "APP_IP": "127.0.0.1", "APP_HOST": "127.0.0.1",
                    "EUREKA_PREFER_IP": "true", "SIDECAR_LOG_LEVEL": "warning"}, name="upstream-sidecar")
    wait_ok(f"http://127.0.0.1:{port}/ping", "the upstream's sidecar")
    wait_up(registry)


def wait_up(registry, timeout=60):
    """Until the dev registry lists an instance of SERVICE as UP (docs/eureka.md: its JSON)."""
    url = f"http://127.0.0.1:{registry}/eureka/apps/{SERVICE.upper()}"
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            request = urllib.request.Request(url, headers={"Accept": "application/json"})
            with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(request, timeout=2) as r:
                if b'"status":"UP"' in r.read().replace(b" ", b""):
                    return
        except OSError:
            pass  # not registered yet (404) or not listening yet
        time.sleep(0.05)
    raise SystemExit(f"bench: the registry never listed {SERVICE} as UP at {url}; logs in {work}")


def start_client_agent(registry, name, extra=None):
    port = free_port()
    p = start([AGENT], {"SIDECAR_PORT": str(port), "APP_NAME": name, "APP_HEALTH_URL": "",
                        "APP_PORT": str(free_port()), "EUREKA_URLS": f"http://127.0.0.1:{registry}/eureka/",
                        **(extra or {})}, name=name)
    wait_ok(f"http://127.0.0.1:{port}/v1/invoke/{SERVICE}/1k", f"{name} routing to {SERVICE}", timeout=90)
    return port, p


# ---------------------------------------------------------------- measuring

def proc_tree(pid):
    """The process and its children (nginx's and haproxy's workers)."""
    pids = [pid]
    try:
        out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
        pids += [int(p) for p in out.split()]
    except OSError:
        pass
    return pids


def cpu_times(pids):
    """The processes' user and system CPU seconds, from /proc."""
    user = system = 0.0
    for pid in pids:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        user += int(fields[11]) / CLK_TCK
        system += int(fields[12]) / CLK_TCK
    return user, system


def thread_cpu_ns(pids):
    """Each thread's CPU time so far in ns (user and system), from /proc/<pid>/task/<tid>/schedstat; None without schedstat."""
    times = {}
    for pid in pids:
        try:
            tids = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for tid in tids:
            try:
                with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                    times[(pid, tid)] = int(f.read().split()[0])
            except (OSError, ValueError, IndexError):
                if not os.path.exists(f"/proc/{pid}/task/{tid}"):
                    continue  # ended meanwhile
                return None
    return times


class CpuMeter:
    """The CPU seconds processes spend from now on (user and system), to the nanosecond where the kernel keeps schedstat.

    /proc/<pid>/stat counts in clock ticks (10 ms): at 1,000 requests/s for 5 s, a proxy's 0.2 s are about 20 ticks, so the
    rounding alone moved a CPU-per-request figure by 5%. Each thread's schedstat is its exact run time; a thread started
    meanwhile counts whole, and one that ended meanwhile loses its part (the agents' threads live as long as they do; a
    thread-pool worker retires only after 20 s idle). Without schedstat, the ticks.
    """

    def __init__(self, pids):
        self.pids = pids
        self.start_ns = thread_cpu_ns(pids)
        self.start_ticks = cpu_times(pids)

    def seconds(self):
        now = thread_cpu_ns(self.pids) if self.start_ns is not None else None
        if now is None:
            return sum(self.ticks())
        return sum(ns - self.start_ns.get(key, 0) for key, ns in now.items()) / 1e9

    def ticks(self):
        """User and system seconds since the start, in clock ticks (the only split the kernel gives)."""
        user, system = cpu_times(self.pids)
        return user - self.start_ticks[0], system - self.start_ticks[1]


def rss_mb(pids):
    total = 0.0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/statm") as f:
                total += int(f.read().split()[1]) * PAGE_KB / 1024
        except OSError:
            pass
    return total


class RssSampler(threading.Thread):
    def __init__(self, pids):
        super().__init__(daemon=True)
        self.pids, self.peak, self.running = pids, 0.0, True

    def run(self):
        while self.running:
            self.peak = max(self.peak, rss_mb(self.pids))
            time.sleep(0.05)


WRK_PROXY_SCRIPT = os.path.join(work, "proxy.lua")


def write_proxy_script(url):
    """Absolute-form request line to the agent, as an HTTP_PROXY client sends it."""
    with open(WRK_PROXY_SCRIPT, "w") as f:
        f.write(f'wrk.path = "{url}"\nwrk.headers["Host"] = "{SERVICE}"\n')
    return WRK_PROXY_SCRIPT


def wrk(url, proxy=None):
    args = ["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{DURATION}s", "--latency"]
    if proxy:
        args += ["-s", write_proxy_script(url), proxy]
    else:
        args.append(url)
    out = run(args, f"wrk on {url}", DURATION + 60).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    total = int(re.search(r"(\d+) requests in", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    failed = (int(errors.group(1)) if errors else 0) + (sum(int(g) for g in socket_errors.groups()) if socket_errors else 0)
    return rps, total, failed


def hey(url, proxy=None):
    per_worker = RATE / CONNECTIONS
    args = ["hey", "-z", f"{RATE_DURATION}s", "-c", str(CONNECTIONS), "-q", f"{per_worker:g}", "-disable-compression"]
    if proxy:
        args += ["-x", proxy]
    out = run(args + [url], f"hey on {url}", RATE_DURATION + 60).stdout
    pct = {int(m.group(1)): float(m.group(2)) * 1000 for m in re.finditer(r"(\d+)%+ in ([\d.]+) secs", out)}
    codes = {int(c): int(n) for c, n in re.findall(r"\[(\d{3})\]\s+(\d+) responses", out)}
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    return pct.get(50), pct.get(99), codes, rps, sum(codes.values())


def allocated_bytes(t):
    """An agent's managed allocations so far (`dotnet_gc_heap_total_allocated_bytes_total` of its /metrics, docs/observability.md); None for other rows."""
    if not t.agent:
        return None
    base = re.match(r"http://[^/]+", t.proxy or t.url).group(0)
    _, body = get(base + "/metrics", timeout=10)
    found = re.search(rb"^dotnet_gc_heap_total_allocated_bytes_total (\S+)$", body, re.M)
    return float(found.group(1)) if found else None


def per_request(after, before, total):
    return None if after is None or before is None else (after - before) / max(total, 1)


class Target:
    def __init__(self, name, url, pids, proxy=None, agent=False):
        self.name, self.url, self.pids, self.proxy, self.agent = name, url, pids, proxy, agent
        self.rounds = []
        self.rss_idle = None

    def warm(self):
        status, _ = get(self.url, proxy=self.proxy)
        assert status == 200, f"{self.name}: {status}"
        # A short burst so connection pools and caches are warm before the measured run.
        run(["wrk", "-t1", f"-c{CONNECTIONS}", "-d1s"] + (["-s", write_proxy_script(self.url), self.proxy] if self.proxy else [self.url]),
            f"warming {self.name}", 60, check=False)

    def measure(self):
        sampler = RssSampler(self.pids)
        sampler.start()
        meter, allocated = CpuMeter(self.pids), allocated_bytes(self)
        rps, total, failed = wrk(self.url, self.proxy)
        cpu = meter.seconds() / total * 1e6
        # Bytes allocated per request (agents only): unlike CPU time, this does not move with the machine's load.
        alloc = per_request(allocated_bytes(self), allocated, total)
        meter = CpuMeter(self.pids)
        p50, p99, codes, rate, answered = hey(self.url, self.proxy)
        # CPU per request at the fixed rate: what a proxy costs in the common case, not at saturation; and its user-space
        # part (the system part, the sockets' system calls and wake-ups, is about the same for every proxy here): the
        # ticks' user share of the exact total (the kernel splits user and system time in ticks only).
        seconds, (user, system) = meter.seconds(), meter.ticks()
        cpu_1k = seconds / max(answered, 1) * 1e6
        cpu_1k_user = cpu_1k * user / (user + system) if user + system > 0 else 0.0
        sampler.running = False
        sampler.join()
        bad = sum(n for c, n in codes.items() if c != 200) + failed
        row = {"rps": rps, "cpu": cpu, "cpu_1k": cpu_1k, "cpu_1k_user": cpu_1k_user, "rss_load": sampler.peak, "p50": p50, "p99": p99, "bad": bad, "rate": rate, "alloc": alloc}
        self.rounds.append(row)
        print(f"  {self.name:<13} {rps:>8.0f} rps  {cpu:.1f} CPU us/req  p50 {p50:.2f} ms  p99 {p99:.2f} ms  "
              f"{cpu_1k:.1f} CPU us/req at {RATE} rps (user {cpu_1k_user:.1f})  RSS {sampler.peak:.1f} MB" + (f"  {alloc:.0f} B/req" if alloc is not None else "")
              + (f"  FAILED {bad}" if bad else ""), flush=True)

    def median(self, key):
        return statistics.median(r[key] for r in self.rounds)

    def spread(self, key):
        values = [r[key] for r in self.rounds]
        return min(values), max(values)


STARTUP_RUNS = 11


def startup_ms(runs=STARTUP_RUNS):
    times = []
    for _ in range(runs):
        port = free_port()
        env = {**os.environ, "SIDECAR_PORT": str(port), "APP_HEALTH_URL": ""}
        request = b"GET /ping HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
        t0 = time.perf_counter()
        p = subprocess.Popen([AGENT], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while True:
            # Bounded, and the process checked on every turn: a port another process took meanwhile answers
            # something else (or nothing) while this agent has already exited.
            if p.poll() is not None:
                raise SystemExit(f"bench: the agent exited with {p.returncode} during the start-up test (port {port} taken?)")
            if time.perf_counter() - t0 > 30:
                p.kill()
                p.wait()
                raise SystemExit(f"bench: the agent did not answer /ping on {port} within 30 s during the start-up test")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                    s.sendall(request)
                    if s.recv(64).startswith(b"HTTP/1.1 200"):
                        break
            except OSError:
                time.sleep(0.0005)
        times.append((time.perf_counter() - t0) * 1000)
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=20)
    return statistics.median(times), min(times), max(times)


# ---------------------------------------------------------------- report

def machine():
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30

    def version(cmd):
        try:
            r = subprocess.run(cmd, capture_output=True, text=True)
            return (r.stdout + r.stderr).strip().splitlines()[0]
        except (OSError, IndexError):
            return "?"

    return [
        f"{cpu}, {os.cpu_count()} cores, {mem:.0f} GiB, {platform.system()} {platform.release()}",
        f"{version(['nginx', '-v'])}; {version(['haproxy', '-v']).split(' - ')[0]}; "
        f"{version(['wrk', '-v']).split(' [')[0]}; hey; .NET SDK {version(['dotnet', '--version'])}",
        f"load average before the run: {os.getloadavg()[0]:.2f} (other sessions share the machine)",
    ]


def fmt_range(lo, hi, digits=0):
    return f"{lo:.{digits}f}–{hi:.{digits}f}"


def table(targets, start):
    by = {t.name: t for t in targets}
    direct, nginx = by["direct"], by["nginx"]
    n = len(direct.rounds)

    def ratio(t, base, key="rps"):
        values = [t.rounds[i][key] / base.rounds[i][key] for i in range(n)]
        return statistics.median(values), min(values), max(values)

    lines = [
        f"Medians over {n} round(s); the spread (min–max over the rounds) in brackets.",
        "",
        f"| path | max rps | vs direct | vs nginx | CPU µs/req at max | p50 ms | p99 ms | added p50 | added p99 | CPU µs/req at {RATE} rps | of which user | vs nginx | RSS idle / load MB | allocated B/req |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    def added(t, key):
        # Difference of the medians: one noisy round (a p99 spike on the direct row) moves it less.
        return t.median(key) - direct.median(key)

    def cpu_vs_nginx(t):
        return ratio(t, nginx, "cpu_1k")

    def alloc_cell(t):
        values = [r["alloc"] for r in t.rounds if r.get("alloc") is not None]
        return f"{statistics.median(values):.0f}" if values else "–"

    for t in targets:
        rd, rn = ratio(t, direct), ratio(t, nginx)
        added50, added99 = added(t, "p50"), added(t, "p99")
        rss = f"{t.rss_idle:.1f} / {t.median('rss_load'):.1f}" if t.rss_idle is not None else f"– / {t.median('rss_load'):.1f}"
        spread = f" [{fmt_range(*t.spread('rps'))}]" if n > 1 else ""
        rn_spread = f" [{fmt_range(rn[1], rn[2], 2)}]" if n > 1 else ""
        cpu_ratio = cpu_vs_nginx(t)
        lines.append(
            f"| {t.name} | {t.median('rps'):.0f}{spread} | {rd[0]:.2f} | {rn[0]:.2f}{rn_spread} | {t.median('cpu'):.1f} | "
            f"{t.median('p50'):.2f} | {t.median('p99'):.2f} | {added50:+.2f} | {added99:+.2f} | "
            f"{t.median('cpu_1k'):.1f} | {t.median('cpu_1k_user'):.1f} | {cpu_ratio[0]:.2f} | {rss} | {alloc_cell(t)} |")

    median, low, high = start
    if not {"agent-invoke", "agent-proxy", "agent-plain", "agent-guarded"} <= by.keys():
        return lines  # a reduced run (--rows): no targets table
    invoke, plain = by["agent-invoke"], by["agent-plain"]
    resilience = ratio(invoke, plain)
    # The targets concern the agent as shipped (defaults, resilience on) in both its forms; the other agent rows are informative.
    agents = [t for t in targets if t.agent and t.name in ("agent-invoke", "agent-proxy")]
    guarded = ratio(by["agent-guarded"], invoke)
    guarded_cpu = statistics.median([by["agent-guarded"].rounds[i]["cpu"] / invoke.rounds[i]["cpu"] for i in range(n)])
    worst_idle = max(t.rss_idle for t in agents)
    nginx_ratio = min(ratio(t, nginx)[0] for t in agents)
    added50 = max(added(t, "p50") for t in agents)
    nginx_added50 = added(nginx, "p50")
    worst_cpu = max(cpu_vs_nginx(t)[0] for t in agents)
    worst_cpu_us = max(t.median("cpu_1k") for t in agents)

    def verdict(ok):
        return "met" if ok else "**missed**"

    lines += [
        "",
        "Added latency is the difference of the medians. The direct row's CPU and RSS are the upstream "
        "nginx's; nginx's and haproxy's include their workers.",
        f"hey reports latencies in 0.1 ms steps. Start-up: a standalone agent, exec to a first `/ping` 200, "
        f"{STARTUP_RUNS} runs: median {median:.0f} ms (min {low:.0f}, max {high:.0f}).",
        "",
        "The CPU columns are the proxy's CPU time (user and system, from /proc) per request: under wrk's maximum load, "
        f"and during hey's run at {RATE} rps; \"vs nginx\" is the latter's ratio to nginx's in the same round (median over the rounds). "
        "Allocated bytes per request: the agent's `dotnet_gc_heap_total_allocated_bytes_total` (its /metrics) across the wrk run.",
        f"Resilience on vs off (agent-invoke vs agent-plain max rps): {resilience[0]:.2f} ({fmt_range(resilience[1], resilience[2], 2)}).",
        "",
        "| target (issue 19) | goal | measured (worst of agent-invoke, agent-proxy: defaults, resilience on) | |",
        "|---|---|---|---|",
        f"| max rps vs nginx | >= {TARGET_RPS_VS_NGINX:.2f}x | {nginx_ratio:.2f}x | {verdict(nginx_ratio >= TARGET_RPS_VS_NGINX)} |",
        f"| CPU per request at {RATE} rps vs nginx's | <= {TARGET_CPU_VS_NGINX:.1f}x | {worst_cpu:.2f}x ({worst_cpu_us:.1f} µs; nginx {nginx.median('cpu_1k'):.1f} µs) | {verdict(worst_cpu <= TARGET_CPU_VS_NGINX)} |",
        f"| added p50 at {RATE} rps | <= nginx's + {TARGET_ADDED_P50_OVER_NGINX_MS} ms | {added50:+.2f} ms (nginx: {nginx_added50:+.2f} ms) | "
        f"{verdict(added50 <= nginx_added50 + TARGET_ADDED_P50_OVER_NGINX_MS + 1e-9)} |",
        f"| start-up to ready | <= {TARGET_STARTUP_MS} ms | {median:.0f} ms | {verdict(median <= TARGET_STARTUP_MS)} |",
        f"| RSS idle | <= {TARGET_IDLE_MB} MB | {worst_idle:.1f} MB | {verdict(worst_idle <= TARGET_IDLE_MB)} |",
        f"| bulkhead, rate limit, breaker, cache, hedging configured, not triggered (agent-guarded vs agent-invoke) | >= 0.95 rps | "
        f"{guarded[0]:.2f} ({fmt_range(guarded[1], guarded[2], 2)}); CPU per request x{guarded_cpu:.2f} | {verdict(guarded[0] >= 0.95)} |",
    ]
    failures = {t.name: sum(r["bad"] for r in t.rounds) for t in targets if any(r["bad"] for r in t.rounds)}
    if failures:
        lines.append("")
        lines.append(f"Failed requests (non-200 answers or socket errors): {failures}.")
    return lines


# ---------------------------------------------------------------- the TCP row

TCP_REQUESTS = 50_000 if QUICK else 200_000


# Each step of the TCP rows is bounded: redis-benchmark has no time-out of its own and waits for ever on a
# peer that accepts but never answers (a port another process took between free_port() and the bind, a
# listener whose agent is gone and whose port was reused).
TCP_STEP_TIMEOUT = 120 if QUICK else 300


def wait_tcp(port, what, process, timeout=30):
    """Until the port answers Redis's PING with +PONG, while the process that should answer is alive."""
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"bench: {what} exited with {process.returncode} before answering on {port}; logs in {work}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
                s.settimeout(2)
                s.sendall(b"PING\r\n")
                last = s.recv(64)
                if last.startswith(b"+PONG"):
                    return
        except OSError as e:
            last = e
        time.sleep(0.05)
    if process.poll() is not None:
        raise SystemExit(f"bench: {what} exited with {process.returncode} before answering on {port}; logs in {work}")
    raise SystemExit(f"bench: {what} never answered PING on {port} (last: {last!r}; another process on the port?); logs in {work}")


def bound_tcp_listener(process, service, timeout=30):
    """The port an agent with SIDECAR_TCP_LISTENERS=0=service bound, from its start-up line (docs/forwarding.md#tcp-listeners)."""
    deadline = time.time() + timeout
    log = os.path.join(work, "tcp-agent.log")
    while time.time() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"bench: the TCP agent exited with {process.returncode}; logs in {work}")
        with open(log) as f:
            found = re.search(r" listening on .*?tcp://[^\s,]+:(\d+)=" + re.escape(service) + r"[,\s]", f.read())
        if found:
            return int(found.group(1))
        time.sleep(0.05)
    raise SystemExit(f"bench: the TCP agent printed no start-up line within {timeout} s; logs in {work}")


def start_haproxy_tcp(upstream):
    port, p = start_haproxy_process(upstream, "tcp", "haproxy-tcp", "1h")
    wait_tcp(port, "haproxy in tcp mode", p)
    return port, p


def redis_benchmark(name, port, process, pids):
    """GET and SET through 16 connections (redis-benchmark); requests/s, p50 and p99 of GET, CPU of the relay."""
    wait_tcp(port, name, process, timeout=10)  # still the right peer, still alive
    meter = CpuMeter(pids)
    out = run(["redis-benchmark", "-h", "127.0.0.1", "-p", str(port), "-c", str(CONNECTIONS), "-n", str(TCP_REQUESTS), "-t", "set,get", "--csv"],
              f"redis-benchmark through {name}", TCP_STEP_TIMEOUT).stdout
    cpu = meter.seconds()
    rows = {line.split(",")[0].strip('"'): [c.strip('"') for c in line.split(",")[1:]] for line in out.splitlines() if line.startswith('"')}
    get_row = rows["GET"]
    # redis-benchmark 7's columns: rps, avg, min, p50, p95, p99, max (ms).
    return {"rps": float(get_row[0]), "p50": float(get_row[3]), "p99": float(get_row[5]), "cpu": cpu / (2 * TCP_REQUESTS) * 10_000}


def tcp_rows():
    """redis-benchmark against redis-server directly, through the agent's TCP listener, and through haproxy in tcp mode."""
    if not shutil.which("redis-server") or not shutil.which("redis-benchmark"):
        return ["", "TCP row skipped: redis-server and redis-benchmark are not installed (apt-get install -y redis-server redis-tools)."]
    redis_port = free_port()
    # redis-server takes a port number only (its --port 0 turns TCP off): a free one, checked by PING below.
    redis = start(["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], name="redis")
    wait_tcp(redis_port, "redis-server", redis)
    # The agent binds its API and listener ports itself (port 0) and names them in its start-up line: no clash possible.
    agent = start([AGENT], env={"SIDECAR_PORT": "0", "APP_HEALTH_URL": "", "SIDECAR_LOG_LEVEL": "warning",
                                "SIDECAR_DATA_DIR": os.path.join(work, "tcp-agent"), "ROUTES": f"redis=tcp://127.0.0.1:{redis_port}",
                                "SIDECAR_TCP_LISTENERS": "0=redis"}, name="tcp-agent")
    listener = bound_tcp_listener(agent, "redis")
    wait_tcp(listener, "the agent's TCP listener", agent)
    targets = [("direct", redis_port, redis, [redis.pid]), ("agent-tcp", listener, agent, [agent.pid])]
    if shutil.which("haproxy") or os.access("/usr/sbin/haproxy", os.X_OK):
        haproxy_port, haproxy = start_haproxy_tcp(redis_port)
        targets.append(("haproxy-tcp", haproxy_port, haproxy, proc_tree(haproxy.pid)))
    results = {name: [] for name, _, _, _ in targets}
    print(f"bench: TCP, {ROUNDS} round(s) of redis-benchmark ({TCP_REQUESTS} GET and SET, {CONNECTIONS} connections)", flush=True)
    for _ in range(ROUNDS):
        for name, port, process, pids in targets:
            results[name].append(redis_benchmark(name, port, process, pids))
    direct = results["direct"]
    lines = ["", f"TCP (redis-benchmark GET, {CONNECTIONS} connections; medians over {ROUNDS} round(s)). The direct row's CPU is redis-server's own.", "",
             "| path | GET rps | vs direct | p50 ms | p99 ms | CPU s / 10k req |", "|---|---|---|---|---|---|"]
    for name, _, _, _ in targets:
        rounds = results[name]
        ratio = statistics.median(r["rps"] / d["rps"] for r, d in zip(rounds, direct))
        lines.append(f"| {name} | {statistics.median(r['rps'] for r in rounds):.0f} | {ratio:.2f} | "
                     f"{statistics.median(r['p50'] for r in rounds):.3f} | {statistics.median(r['p99'] for r in rounds):.3f} | "
                     f"{statistics.median(r['cpu'] for r in rounds):.3f} |")
    return lines


# ---------------------------------------------------------------- the gRPC row

GRPC_EXAMPLE = os.path.join(ROOT, "examples", "node-grpc")
GRPC_STREAMS = 16


def h2load(port, authority, body, pids):
    """Unary gRPC calls over one HTTP/2 connection with GRPC_STREAMS streams in flight; requests/s, mean latency and CPU of pids."""
    args = ["h2load", "-c", "1", "-m", str(GRPC_STREAMS), "-d", body, "-H", "content-type: application/grpc", "-H", "te: trailers",
            "-H", f":authority: {authority}", f"http://127.0.0.1:{port}/greeter.Greeter/SayHello"]
    # A warm-up run apart: h2load 1.52's --warm-up-time with -D starts no request at all.
    run(args[:1] + ["-n", "2000"] + args[1:], f"h2load's warm-up on {authority}", 120)
    meter = CpuMeter(pids)
    out = run(args[:1] + ["-D", str(DURATION)] + args[1:], f"h2load on {authority}", DURATION + 60).stdout
    cpu = meter.seconds()
    done = re.search(r"requests: \d+ total, \d+ started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored", out)
    # Non-2xx answers from the status-code counts, not done - 2xx: in a timed run (-D) h2load counts the
    # statuses of the streams still open at the end but not their "done", which made that difference negative.
    codes = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", out)
    mean = re.search(r"time for request:\s+\S+\s+\S+\s+(\S+)", out).group(1)
    mean_ms = float(mean[:-2]) if mean.endswith("ms") else float(mean[:-2]) / 1000 if mean.endswith("us") else float(mean[:-1]) * 1000
    return {"rps": float(re.search(r"finished in [^,]+, ([\d.]+) req/s", out).group(1)), "mean": mean_ms,
            "cpu": cpu / max(int(done.group(1)), 1) * 10_000, "bad": sum(int(codes.group(i)) for i in (2, 3, 4)) + int(done.group(3)) + int(done.group(4))}


def grpc_client_ok(port, authority):
    """examples/node-grpc/client.js once: h2load counts any 200 as a success, gRPC errors included (they are trailers)."""
    run = subprocess.run(["node", os.path.join(GRPC_EXAMPLE, "client.js"), f"127.0.0.1:{port}", authority, "bench", "1"],
                         capture_output=True, text=True, timeout=30)
    return run.returncode == 0 and '"hello bench"' in run.stdout, (run.stdout + run.stderr).strip()


def port_in_log(name, process, pattern, timeout=30):
    """The port a child bound on port 0, as its log names it (the agent's start-up line, the node server's first line)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"bench: {name} exited with {process.returncode}; logs in {work}")
        with open(os.path.join(work, f"{name}.log")) as f:
            found = re.search(pattern, f.read())
        if found:
            return int(found.group(1))
        time.sleep(0.05)
    raise SystemExit(f"bench: {name} named no port within {timeout} s; logs in {work}")


def grpc_rows():
    """Unary gRPC: the node-grpc example's server directly, and through the agent's gRPC port (:authority names it)."""
    if not shutil.which("h2load"):
        return ["", "gRPC row skipped: h2load is not installed (apt-get install -y nghttp2-client)."]
    if not shutil.which("node") or not os.path.isdir(os.path.join(GRPC_EXAMPLE, "node_modules", "@grpc", "grpc-js")):
        return ["", "gRPC row skipped: node or examples/node-grpc's packages are missing (cd examples/node-grpc && npm ci)."]
    # Every port 0, bound where it is used and read back from the log: no clash with another process possible.
    server = start(["node", os.path.join(GRPC_EXAMPLE, "server.js")], env={"APP_PORT": "0", "APP_NAME": "greeter"}, name="grpc-server")
    server_port = port_in_log("grpc-server", server, r"\[greeter\] listening on 127\.0\.0\.1:(\d+)")
    agent = start([AGENT], env={"SIDECAR_PORT": "0", "APP_HEALTH_URL": "", "SIDECAR_LOG_LEVEL": "warning",
                                "SIDECAR_DATA_DIR": os.path.join(work, "grpc-agent"), "ROUTES": f"greeter=http://127.0.0.1:{server_port}",
                                "SIDECAR_GRPC_PORT": "0"}, name="grpc-agent")
    # The start-up line names the API, then the gRPC listener (docs/grpc.md#the-grpc-listener).
    grpc_port = port_in_log("grpc-agent", agent, r" listening on http://[^,\s]+, http://127\.0\.0\.1:(\d+)")
    body = os.path.join(work, "hello.grpc")
    with open(body, "wb") as f:
        message = b"\x0a\x05bench"  # HelloRequest{name = "bench"}
        f.write(b"\x00" + len(message).to_bytes(4, "big") + message)
    targets = [("direct", server_port, f"127.0.0.1:{server_port}", [server.pid]), ("agent-grpc", grpc_port, "greeter", [agent.pid])]
    for name, port, authority, _ in targets:
        ok, said = grpc_client_ok(port, authority)
        if not ok:
            raise SystemExit(f"bench: a gRPC call to {name} failed: {said}; logs in {work}")
    results = {name: [] for name, _, _, _ in targets}
    print(f"bench: gRPC, {ROUNDS} round(s) of {DURATION}s h2load runs (unary, 1 connection, {GRPC_STREAMS} streams)", flush=True)
    for _ in range(ROUNDS):
        for name, port, authority, pids in targets:  # alternated, round by round: the machine's load moves
            results[name].append(h2load(port, authority, body, pids))
            r = results[name][-1]
            print(f"  {name:<13} {r['rps']:>8.0f} rps  mean {r['mean']:.2f} ms  {r['cpu']:.3f} CPU s/10k" + (f"  FAILED {r['bad']}" if r["bad"] else ""), flush=True)
    direct = results["direct"]
    lines = ["", f"gRPC unary (h2load, 1 connection, {GRPC_STREAMS} streams, greeter.Greeter/SayHello on the grpc-js server of examples/node-grpc; "
             f"medians over {ROUNDS} round(s)). The direct row's CPU is the node server's own; h2load gives no percentiles.", "",
             "| path | calls/s | vs direct | mean ms | CPU s / 10k calls |", "|---|---|---|---|---|"]
    for name, _, _, _ in targets:
        rounds = results[name]
        ratios = [r["rps"] / d["rps"] for r, d in zip(rounds, direct)]
        spread = f" [{fmt_range(min(ratios), max(ratios), 2)}]" if len(ratios) > 1 else ""
        lines.append(f"| {name} | {statistics.median(r['rps'] for r in rounds):.0f} | {statistics.median(ratios):.2f}{spread} | "
                     f"{statistics.median(r['mean'] for r in rounds):.2f} | {statistics.median(r['cpu'] for r in rounds):.3f} |")
    bad = {name: sum(r["bad"] for r in rounds) for name, rounds in results.items() if any(r["bad"] for r in rounds)}
    if bad:
        lines.append(f"\nFailed calls (non-2xx or errors): {bad}.")
    return lines


def raw_rounds(targets):
    lines = ["| round | " + " | ".join(t.name for t in targets) + " |", "|---" * (len(targets) + 1) + "|"]
    for i in range(len(targets[0].rounds)):
        cells = [f"{t.rounds[i]['rps']:.0f} rps, {t.rounds[i]['p50']:.1f}/{t.rounds[i]['p99']:.1f} ms, {t.rounds[i]['cpu_1k']:.0f} µs" for t in targets]
        lines.append(f"| {i + 1} | " + " | ".join(cells) + " |")
    return lines


def main():
    if not os.access(AGENT, os.X_OK):
        raise SystemExit(f"bench: {AGENT} is missing: run bench/run.sh, which publishes it")
    for flag, rows in (("--tcp-only", tcp_rows), ("--grpc-only", grpc_rows)):
        if flag in sys.argv:
            try:
                print("\n".join(rows()))
            finally:
                stop_all()
            return
    description = machine()
    try:
        if not os.access(FLOOR, os.X_OK):
            print(f"bench: {FLOOR} is missing (bench/run.sh publishes it): the floor row is skipped", flush=True)
        if not os.access(KESTREL, os.X_OK):
            print(f"bench: {KESTREL} is missing (bench/run.sh publishes it): the kestrel, kestrel-proxy, kestrel-conn and kestrel-core rows are skipped", flush=True)
        print("bench: starting the upstream, nginx, haproxy, the floor, bench/kestrel's four modes, the dev registry and the agents", flush=True)
        upstream, upstream_p = start_upstream()
        nginx, nginx_p = start_nginx_proxy(upstream)
        haproxy, haproxy_p = start_haproxy(upstream)
        floor = start_floor(upstream) if os.access(FLOOR, os.X_OK) else None
        kestrel = start_kestrel() if os.access(KESTREL, os.X_OK) else None
        kestrel_proxy = start_kestrel("proxy", upstream) if kestrel else None
        kestrel_conn = start_kestrel("conn", upstream) if kestrel else None
        kestrel_core = start_kestrel("core", upstream) if kestrel else None
        registry = start_registry()
        start_upstream_sidecar(registry, upstream)
        agent_port, agent = start_client_agent(registry, "bench-client")
        plain_port, plain = start_client_agent(registry, "bench-plain", {"Forwarding__Retries": "0", "Forwarding__EjectionFailures": "0"})
        logall_port, logall = start_client_agent(registry, "bench-logall", {"Sidecar__RequestLog": "all"})
        # Every strategy of docs/resilience.md configured, none triggered: the limits far above the load, the
        # breaker closed (no failures), the cache on (the upstream's answers carry no freshness: never stored),
        # hedging after 1 s (the answers come in well under it).
        guarded_port, guarded = start_client_agent(registry, "bench-guarded", {
            "Forwarding__MaxConcurrentRequests": "100000", "Forwarding__RateLimit": "1000000",
            "Forwarding__CircuitBreaker": "true", "Forwarding__Cache": "true", "Forwarding__HedgeAfter": "1s"})
        wait_ok(f"http://{SERVICE}/1k", "the forward proxy", proxy=f"http://127.0.0.1:{agent_port}")
        time.sleep(1)

        targets = [
            Target("direct", f"http://127.0.0.1:{upstream}/1k", proc_tree(upstream_p.pid)),
            Target("nginx", f"http://127.0.0.1:{nginx}/1k", proc_tree(nginx_p.pid)),
            Target("haproxy", f"http://127.0.0.1:{haproxy}/1k", proc_tree(haproxy_p.pid)),
            *([Target("floor", f"http://127.0.0.1:{floor[0]}/1k", [floor[1].pid])] if floor else []),
            *([Target("kestrel", f"http://127.0.0.1:{kestrel[0]}/1k", [kestrel[1].pid]),
               Target("kestrel-proxy", f"http://127.0.0.1:{kestrel_proxy[0]}/1k", [kestrel_proxy[1].pid]),
               Target("kestrel-conn", f"http://127.0.0.1:{kestrel_conn[0]}/1k", [kestrel_conn[1].pid]),
               Target("kestrel-core", f"http://127.0.0.1:{kestrel_core[0]}{kestrel_core[2]}", [kestrel_core[1].pid])] if kestrel else []),
            Target("agent-invoke", f"http://127.0.0.1:{agent_port}/v1/invoke/{SERVICE}/1k", [agent.pid], agent=True),
            Target("agent-proxy", f"http://{SERVICE}/1k", [agent.pid], proxy=f"http://127.0.0.1:{agent_port}", agent=True),
            Target("agent-plain", f"http://127.0.0.1:{plain_port}/v1/invoke/{SERVICE}/1k", [plain.pid], agent=True),
            Target("agent-logall", f"http://127.0.0.1:{logall_port}/v1/invoke/{SERVICE}/1k", [logall.pid], agent=True),
            Target("agent-guarded", f"http://127.0.0.1:{guarded_port}/v1/invoke/{SERVICE}/1k", [guarded.pid], agent=True),
        ]
        if ROWS:
            targets = [t for t in targets if t.name in ROWS]
        # Idle: discovery done, one call made, no load yet.
        for t in targets:
            get(t.url, proxy=t.proxy)
        time.sleep(1)
        for t in targets:
            t.rss_idle = rss_mb(t.pids)
        for t in targets:
            t.warm()

        print(f"bench: {ROUNDS} round(s) of {DURATION}s wrk runs (1 thread, {CONNECTIONS} connections) "
              f"and {RATE_DURATION}s hey runs at {RATE} rps", flush=True)
        for r in range(ROUNDS):
            print(f"round {r + 1}", flush=True)
            # Every other round in the opposite order (as bench/ab.py): a row measured always last, or always right
            # after another, does not carry an order or warm-up effect into every round.
            for t in (targets if r % 2 == 0 else reversed(targets)):
                t.measure()
        tcp = tcp_rows() + grpc_rows() if not ROWS else []
    finally:
        stop_all()
    print("bench: start-up time", flush=True)
    start = startup_ms()
    lines = table(targets, start) + tcp
    if ROWS:
        print("\n".join(lines + ["", "Each round:", ""] + raw_rounds(targets)))
        print("bench: --rows: a reduced run, bench/RESULTS.md left as it was")
        return
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    report = ["# Benchmark results", "", f"Measured {stamp} by `bash bench/run.sh{' --quick' if QUICK else ''}` on:", ""]
    report += [f"- {m}" for m in description] + [""] + lines + ["", "Each round (max rps; p50/p99 and CPU per request at 1,000 rps):", ""]
    report += raw_rounds(targets) + [""]
    print("\n".join(lines))
    with open(os.path.join(ROOT, "bench", "RESULTS.md"), "w") as f:
        f.write("\n".join(report))
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
