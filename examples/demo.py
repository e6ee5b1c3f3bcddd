#!/usr/bin/env python3
"""The demo: the agent beside a sample app, walked through step by step (standard library only).

    python3 examples/demo.py          walkthrough, then stop
    python3 examples/demo.py --keep   walkthrough, then keep running until Ctrl-C

It builds the agent, starts examples/python-app beside it, and shows what an operator sees:
the app probed, reported UP, failing, DOWN, and healed.
"""
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
children = []


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def say(text):
    print(f"\n\033[1m== {text}\033[0m" if sys.stdout.isatty() else f"\n== {text}", flush=True)


def http(method, url, body=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def wait_for(what, check, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if check():
                return
        except (urllib.error.URLError, ConnectionError, OSError):
            pass
        time.sleep(0.2)
    raise SystemExit(f"demo: timed out waiting for {what}")


def start(args, env, prefix):
    process = subprocess.Popen(args, env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)
    children.append(process)

    def pump():
        for line in process.stdout:
            if "RequestLoggingMiddleware" in line:  # one line per request: too chatty for a walkthrough
                continue
            print(f"  {prefix} | {line.rstrip()}", flush=True)

    import threading
    threading.Thread(target=pump, daemon=True).start()
    return process


def stop_all(*_):
    for process in reversed(children):
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in reversed(children):
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


def main():
    keep = "--keep" in sys.argv[1:]
    say("Building the agent (dotnet build -c Release)")
    subprocess.run(["dotnet", "build", os.path.join(ROOT, "agent"), "-c", "Release", "-v", "quiet", "-nologo"], check=True)
    agent_dll = os.path.join(ROOT, "agent", "bin", "Release", "net10.0", "agent.dll")

    app_port, agent_port = free_port(), free_port()
    agent = f"http://127.0.0.1:{agent_port}"
    signal.signal(signal.SIGTERM, lambda *_: (stop_all(), sys.exit(0)))
    try:
        say(f"Starting the sample app on :{app_port} and the agent beside it on :{agent_port}")
        start([sys.executable, os.path.join(ROOT, "examples", "python-app", "app.py")], {"APP_PORT": str(app_port), "APP_NAME": "python-app"}, "app  ")
        start(["dotnet", agent_dll], {"SIDECAR_PORT": str(agent_port), "APP_PORT": str(app_port), "APP_NAME": "python-app",
                                      "APP_HEALTH_INTERVAL": "1s", "APP_HEALTH_FAILURE_THRESHOLD": "2"}, "agent")
        wait_for("the agent", lambda: http("GET", f"{agent}/ping")[0] == 200)
        wait_for("the app to be UP", lambda: http("GET", f"{agent}/healthcheck")[0] == 200)

        say("The agent has probed the app: GET /healthcheck (Prana) and GET /v1/health")
        print("  /healthcheck ->", *http("GET", f"{agent}/healthcheck"))
        print("  /v1/health   ->", http("GET", f"{agent}/v1/health")[1])

        say("The app's own /health now answers 503 {\"status\":\"DOWN\"}; the agent reports it DOWN")
        http("POST", f"http://127.0.0.1:{app_port}/admin/health", {"healthy": False})
        wait_for("the app to be DOWN", lambda: http("GET", f"{agent}/healthcheck")[0] == 503)
        print("  /healthcheck ->", *http("GET", f"{agent}/healthcheck"))
        print("  /v1/health/ready ->", http("GET", f"{agent}/v1/health/ready")[0])

        say("The app heals; one good probe brings it back UP")
        http("POST", f"http://127.0.0.1:{app_port}/admin/health", {"healthy": True})
        wait_for("the app to be UP again", lambda: http("GET", f"{agent}/healthcheck")[0] == 200)
        print("  /healthcheck ->", *http("GET", f"{agent}/healthcheck"))
        print("  /status      ->", http("GET", f"{agent}/status")[1])

        if keep:
            say(f"Running: try curl {agent}/v1/health  (Ctrl-C to stop)")
            while all(p.poll() is None for p in children):
                time.sleep(0.5)
        say("Done")
    except KeyboardInterrupt:
        say("Stopping")
    finally:
        stop_all()


if __name__ == "__main__":
    main()
