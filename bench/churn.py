#!/usr/bin/env python3
"""Service churn: does an agent give back what services that came and went left behind?

Starts a dev registry (`agent registry`), one upstream (this script) and a registered agent (the
binary given: the NativeAOT build of .ci/publish, or `dotnet agent.dll`). Each round registers N
services in the registry (all pointing at the upstream), calls each once through the agent, then
deregisters them all; the agent's RSS and its forwarding series (/metrics lines starting
`sidecar_forward_`) are sampled at start, after the calls, and after the services have been gone for
the agent's retention (10 minutes, plus a sweep). Not part of CI (it takes about 12 minutes a round).

Usage: bench/churn.py AGENT [--services 3000] [--rounds 2] [--wait 690]
   e.g. bash .ci/publish /tmp/aot && python3 bench/churn.py /tmp/aot/agent
"""
import argparse
import http.client
import json
import os
import shlex
import socket
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


class Upstream(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


def request(port, method, path, body=None, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request(method, path, body=body, headers=headers or {})
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response.status, data


def wait_until(condition, what, timeout=120):
    deadline = time.time() + timeout
    while not condition():
        if time.time() > deadline:
            sys.exit(f"timed out waiting until {what}")
        time.sleep(0.5)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("agent")
    parser.add_argument("--services", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--wait", type=int, default=690, help="seconds to wait after deregistering (retention 600 s + a sweep)")
    args = parser.parse_args()
    command = shlex.split(args.agent)

    upstream = ThreadingHTTPServer(("127.0.0.1", 0), Upstream)
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    upstream_port = upstream.server_address[1]
    registry_port, agent_port = free_port(), free_port()
    data_dir = tempfile.mkdtemp(prefix="churn-")
    registry = subprocess.Popen(command + ["registry", "--port", str(registry_port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    env = dict(os.environ, APP_NAME="churn", APP_PORT=str(upstream_port), APP_HEALTH_URL="", SIDECAR_PORT=str(agent_port),
               EUREKA_URLS=f"http://127.0.0.1:{registry_port}/eureka/", EUREKA_FETCH_INTERVAL="2s", SIDECAR_DATA_DIR=data_dir,
               SIDECAR_LOG_LEVEL="warning", Sidecar__RequestLog="none")
    agent = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: ping(agent_port), "the agent answers")
        rows = [("start", rss_mib(agent.pid), series(agent_port))]
        for round_ in range(args.rounds):
            names = [f"svc{round_}x{i}" for i in range(args.services)]
            for name in names:
                body = json.dumps({"instance": {
                    "instanceId": f"{name}-1", "app": name.upper(), "hostName": "127.0.0.1", "ipAddr": "127.0.0.1", "status": "UP",
                    "port": {"$": upstream_port, "@enabled": "true"}, "vipAddress": name,
                    "leaseInfo": {"renewalIntervalInSecs": 3600, "durationInSecs": 7200},
                    "dataCenterInfo": {"@class": "com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo", "name": "MyOwn"}}})
                status, _ = request(registry_port, "POST", f"/eureka/apps/{name.upper()}", body, {"Content-Type": "application/json"})
                assert status == 204, status
            wait_until(lambda: known(agent_port) >= args.services, "the agent sees the services")
            started = time.time()
            conn = http.client.HTTPConnection("127.0.0.1", agent_port, timeout=30)
            for name in names:
                conn.request("GET", f"/v1/invoke/{name}/x")
                response = conn.getresponse()
                response.read()
                assert response.status == 200, (name, response.status)
            conn.close()
            rows.append((f"round {round_ + 1}: {args.services} services called ({time.time() - started:.0f} s)", rss_mib(agent.pid), series(agent_port)))
            for name in names:
                request(registry_port, "DELETE", f"/eureka/apps/{name.upper()}/{name}-1")
            wait_until(lambda: known(agent_port) <= 1, "the agent sees them gone")
            time.sleep(args.wait)
            rows.append((f"round {round_ + 1}: {args.wait} s after they left", rss_mib(agent.pid), series(agent_port)))
        print(f"| moment | agent RSS MiB | forwarding series |\n|---|---:|---:|")
        for moment, rss, lines in rows:
            print(f"| {moment} | {rss:.1f} | {lines} |")
    finally:
        for process in (agent, registry):
            process.terminate()
            process.wait(30)
        upstream.shutdown()


def ping(port):
    try:
        return request(port, "GET", "/ping")[0] == 200
    except OSError:
        return False


def known(port):
    status, data = request(port, "GET", "/v1/services")
    return len(json.loads(data)["services"]) if status == 200 else 0


def series(port):
    _, data = request(port, "GET", "/metrics")
    return sum(1 for line in data.decode().splitlines() if line.startswith("sidecar_forward_"))


if __name__ == "__main__":
    main()
