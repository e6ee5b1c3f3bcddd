#!/usr/bin/env python3
"""Side-by-side forwarding benchmark (run it through bench/run.sh, which installs the tools).

Targets, all on loopback with a 1 KiB upstream body served by nginx:
  direct          the upstream itself
  nginx           nginx as reverse proxy (1 worker, keep-alive upstream)
  haproxy         haproxy (1 thread, http-reuse always)
  agent-invoke    the agent's /v1/invoke/{service}/... (NativeAOT, discovery from the dev registry)
  agent-proxy     the agent's forward-proxy form (Host: {service})
  agent-plain     /v1/invoke with retries and ejection off (the resilience-on path must stay within 10%)

For each: max requests/s (wrk, 1 thread, 16 connections) and p50/p99 at a fixed 1,000 rps (hey,
16 workers). For the agent: CPU seconds per 10,000 requests, RSS idle and under load, start-up time
to a first /ping 200. One table, also written to bench/RESULTS.md.
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
AGENT = os.path.join(ROOT, "artifacts", "agent", "agent")
QUICK = "--quick" in sys.argv
DURATION = 4 if QUICK else 8
RATE_DURATION = 5 if QUICK else 10
CONNECTIONS = 16
RATE = 1000
SERVICE = "bench-upstream"
CLK_TCK = os.sysconf("SC_CLK_TCK")

processes = []
work = tempfile.mkdtemp(prefix="sidecar-bench-")


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
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()


def get(url, host=None, timeout=2):
    request = urllib.request.Request(url, headers={"Host": host} if host else {})
    with urllib.request.urlopen(request, timeout=timeout) as r:
        return r.status, r.read()


def wait_ok(url, what, host=None, timeout=60):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        try:
            if get(url, host)[0] == 200:
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
    with open(os.path.join(root, "1k"), "wb") as f:
        f.write(b"x" * 1024)
    conf = os.path.join(work, "upstream.conf")
    with open(conf, "w") as f:
        f.write(f"""
worker_processes 1; daemon off; pid {work}/upstream.pid; error_log {work}/upstream-error.log;
events {{ worker_connections 4096; }}
http {{ access_log off; keepalive_requests 1000000;
  server {{ listen 127.0.0.1:{port}; root {root}; location / {{ }} }} }}
""")
    start(["nginx", "-c", conf, "-p", work], name="upstream")
    wait_ok(f"http://127.0.0.1:{port}/1k", "the upstream")
    return port


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
    start(["nginx", "-c", conf, "-p", work], name="nginx-proxy")
    wait_ok(f"http://127.0.0.1:{port}/1k", "nginx")
    return port


def start_haproxy(upstream):
    port = free_port()
    conf = os.path.join(work, "haproxy.cfg")
    with open(conf, "w") as f:
        f.write(f"""
global
  nbthread 1
  maxconn 4096
defaults
  mode http
  timeout connect 5s
  timeout client 30s
  timeout server 30s
  http-reuse always
frontend fe
  bind 127.0.0.1:{port}
  default_backend be
backend be
  server s1 127.0.0.1:{upstream}
""")
    start(["haproxy", "-f", conf, "-db"], name="haproxy")
    wait_ok(f"http://127.0.0.1:{port}/1k", "haproxy")
    return port


def start_registry():
    port = free_port()
    start([AGENT, "registry", "--port", str(port)], name="registry")
    wait_ok(f"http://127.0.0.1:{port}/eureka/apps/", "the dev registry")
    return port


AGENT_ENV = {
    "SIDECAR_LOG_LEVEL": "warning",
    "EUREKA_FETCH_INTERVAL": "1s",
    "EUREKA_RENEW_INTERVAL": "1s",
}


def start_upstream_sidecar(registry, upstream):
    port = free_port()
    start([AGENT], {**AGENT_ENV, "SIDECAR_PORT": str(port), "APP_NAME": SERVICE, "APP_PORT": str(upstream),
                    "APP_HEALTH_URL": f"http://127.0.0.1:{upstream}/1k", "APP_HEALTH_INTERVAL": "1s",
                    "EUREKA_URLS": f"http://127.0.0.1:{registry}/eureka/", "APP_IP": "127.0.0.1", "APP_HOST": "127.0.0.1",
                    "EUREKA_PREFER_IP": "true"}, name="upstream-sidecar")
    wait_ok(f"http://127.0.0.1:{port}/ping", "the upstream's sidecar")


def start_client_agent(registry, name, extra=None):
    port = free_port()
    p = start([AGENT], {**AGENT_ENV, "SIDECAR_PORT": str(port), "APP_NAME": name, "APP_HEALTH_URL": "",
                        "APP_PORT": str(free_port()), "EUREKA_URLS": f"http://127.0.0.1:{registry}/eureka/",
                        **(extra or {})}, name=name)
    wait_ok(f"http://127.0.0.1:{port}/v1/invoke/{SERVICE}/1k", f"{name} routing to {SERVICE}", timeout=90)
    return port, p


# ---------------------------------------------------------------- measuring

def wrk(url, host=None):
    args = ["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{DURATION}s", url]
    if host:
        args[1:1] = ["-H", f"Host: {host}"]
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    total = int(re.search(r"(\d+) requests in", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return rps, total, int(errors.group(1)) if errors else 0


def hey(url, host=None):
    per_worker = RATE / CONNECTIONS
    args = ["hey", "-z", f"{RATE_DURATION}s", "-c", str(CONNECTIONS), "-q", f"{per_worker:g}", "-disable-compression"]
    if host:
        args += ["-host", host]
    out = subprocess.run(args + [url], capture_output=True, text=True, check=True).stdout
    pct = {int(m.group(1)): float(m.group(2)) * 1000 for m in re.finditer(r"(\d+)%+ in ([\d.]+) secs", out)}
    codes = dict((int(c), int(n)) for c, n in re.findall(r"\[(\d{3})\]\s+(\d+) responses", out))
    return pct.get(50), pct.get(99), codes


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


class RssSampler(threading.Thread):
    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid, self.peak, self.running = pid, 0.0, True

    def run(self):
        while self.running:
            self.peak = max(self.peak, rss_mb(self.pid))
            time.sleep(0.1)


def measure(name, url, host=None, pid=None):
    get(url, host)  # warm the path
    row = {"name": name}
    if pid:
        row["rss_idle"] = rss_mb(pid)
        sampler = RssSampler(pid)
        sampler.start()
        before = cpu_seconds(pid)
    row["rps"], total, row["errors"] = wrk(url, host)
    if pid:
        row["cpu_per_10k"] = (cpu_seconds(pid) - before) / total * 10_000
        sampler.running = False
        sampler.join()
        row["rss_load"] = sampler.peak
    row["p50"], row["p99"], row["codes"] = hey(url, host)
    print(f"  {name:<14} {row['rps']:>9.0f} rps   p50 {row['p50']:.2f} ms   p99 {row['p99']:.2f} ms", flush=True)
    return row


def startup_ms(runs=7):
    times = []
    for _ in range(runs):
        port = free_port()
        env = {**os.environ, "SIDECAR_PORT": str(port), "APP_HEALTH_URL": "", "SIDECAR_LOG_LEVEL": "warning"}
        t0 = time.perf_counter()
        p = subprocess.Popen([AGENT], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        request = b"GET /ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                    s.sendall(request)
                    if s.recv(64).startswith(b"HTTP/1.1 200"):
                        break
            except OSError:
                time.sleep(0.001)
        times.append((time.perf_counter() - t0) * 1000)
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=10)
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
        f"{version(['nginx', '-v'])}; {version(['haproxy', '-v'])}; {version(['wrk', '-v'])}; .NET {version(['dotnet', '--version'])}",
    ]


def table(rows, start):
    direct = next(r for r in rows if r["name"] == "direct")
    nginx = next(r for r in rows if r["name"] == "nginx")
    lines = [
        "| path | max rps | vs direct | vs nginx | p50 ms | p99 ms | added p50 | added p99 | agent CPU s/10k req | agent RSS idle / load MB |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        agent_cols = (f"{r['cpu_per_10k']:.3f}", f"{r['rss_idle']:.1f} / {r['rss_load']:.1f}") if "cpu_per_10k" in r else ("", "")
        lines.append(
            f"| {r['name']} | {r['rps']:.0f} | {r['rps'] / direct['rps']:.2f} | {r['rps'] / nginx['rps']:.2f} | "
            f"{r['p50']:.2f} | {r['p99']:.2f} | {r['p50'] - direct['p50']:+.2f} | {r['p99'] - direct['p99']:+.2f} | "
            f"{agent_cols[0]} | {agent_cols[1]} |")
    median, low, high = start
    lines.append("")
    lines.append(f"Agent start-up to a first `/ping` 200 (NativeAOT, 7 runs): median {median:.0f} ms (min {low:.0f}, max {high:.0f}).")
    plain = next((r for r in rows if r["name"] == "agent-plain"), None)
    invoke = next((r for r in rows if r["name"] == "agent-invoke"), None)
    if plain and invoke:
        lines.append(f"Resilience on (retries + ejection, `agent-invoke`) vs off (`agent-plain`): {invoke['rps'] / plain['rps']:.2f}x the throughput.")
    failures = {r["name"]: r["errors"] for r in rows if r["errors"]}
    if failures:
        lines.append(f"Non-2xx answers during wrk: {failures}.")
    return lines


def main():
    if not os.access(AGENT, os.X_OK):
        raise SystemExit("bench: artifacts/agent/agent is missing: run bench/run.sh, which publishes it")
    try:
        print("bench: starting the upstream, nginx, haproxy, the dev registry and the agents", flush=True)
        upstream = start_upstream()
        nginx = start_nginx_proxy(upstream)
        haproxy = start_haproxy(upstream)
        registry = start_registry()
        start_upstream_sidecar(registry, upstream)
        agent_port, agent = start_client_agent(registry, "bench-client")
        plain_port, plain = start_client_agent(registry, "bench-plain", {"Forwarding__Retries": "0", "Forwarding__Ejection__Enabled": "false"})
        time.sleep(1)

        print(f"bench: {DURATION}s wrk runs (1 thread, {CONNECTIONS} connections), {RATE_DURATION}s hey runs at {RATE} rps", flush=True)
        rows = [
            measure("direct", f"http://127.0.0.1:{upstream}/1k"),
            measure("nginx", f"http://127.0.0.1:{nginx}/1k"),
            measure("haproxy", f"http://127.0.0.1:{haproxy}/1k"),
            measure("agent-invoke", f"http://127.0.0.1:{agent_port}/v1/invoke/{SERVICE}/1k", pid=agent.pid),
            measure("agent-proxy", f"http://127.0.0.1:{agent_port}/1k", host=SERVICE, pid=agent.pid),
            measure("agent-plain", f"http://127.0.0.1:{plain_port}/v1/invoke/{SERVICE}/1k", pid=plain.pid),
        ]
    finally:
        stop_all()
    print("bench: start-up time", flush=True)
    start = startup_ms()
    lines = table(rows, start)
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    report = [f"# Benchmark results", "", f"Measured {stamp} by `bash bench/run.sh{' --quick' if QUICK else ''}` on:", ""]
    report += [f"- {m}" for m in machine()] + [""] + lines + [""]
    print("\n".join(lines))
    with open(os.path.join(ROOT, "bench", "RESULTS.md"), "w") as f:
        f.write("\n".join(report))
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
