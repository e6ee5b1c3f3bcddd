#!/usr/bin/env python3
"""The demo: a Python service and a Node service, each beside its own sidecar agent, found through
Eureka (the agent's dev registry) and configured from the agent. Standard library only.

    python3 examples/demo.py          the walkthrough, then stop
    python3 examples/demo.py --keep   the walkthrough, then keep everything running until Ctrl-C

What it starts:
  agent registry            an in-memory Eureka-compatible registry (development only)
  agent run -- python3 ...  python-app under its agent; calls node-app through /v1/invoke
  agent run -- node ...     node-app under its agent; calls python-app with the agent as HTTP_PROXY
  examples/postgres/run.sh  when PostgreSQL is installed: a real PostgreSQL under its agent, registered
                            with a TCP health check; python-app reaches it by name through a TCP listener
  agent run -- node examples/node-grpc/server.js
                            when npm is installed: a gRPC server under its agent, registered with a gRPC
                            health check; its client calls it by name through python-app's agent's gRPC port
Each app's settings come from a local file the agent serves (CONFIG_FILE), followed by long-poll.
"""
import json
import os
import glob
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KEEP = "--keep" in sys.argv[1:]
QUIET_LOGS = ("RequestLoggingMiddleware", "GET /health")  # one line per request: too chatty for a walkthrough
children = []
pumps = []
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
tty = sys.stdout.isatty()
output_lock = threading.Lock()


def port_in_log(what, log_path, pattern):
    """The port a child bound, as its output says: each one is given port 0 and picks a free port where it
    binds it, so no other process can take it in between (an agent names its addresses in its start-up line)."""
    found = []

    def check():
        with open(log_path, encoding="utf-8", errors="replace") as log:
            match = re.search(pattern, log.read())
        if match:
            found.append(int(match.group(1)))
        return match is not None

    wait_for(what, check)
    return found[0]


def say(text):
    """One write per line, under a lock: the output pumps run in parallel and print would interleave its pieces."""
    with output_lock:
        sys.stdout.write(text + "\n")
        sys.stdout.flush()


def step(number, text):
    line = f"[{number}] {text}"
    say(f"\n\033[1m{line}\033[0m" if tty else f"\n{line}")


def show(label, value):
    say(f"    {label:<34} {value}")


def http(method, url, body=None, headers=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with opener.open(request, timeout=10) as response:
            return response.status, response.read().decode(), dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(), dict(error.headers)


def get_json(url):
    status, body, _ = http("GET", url, headers={"Accept": "application/json"})
    return status, (json.loads(body) if body else None)


def wait_for(what, check, timeout=90):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if check():
                return
        except (urllib.error.URLError, ConnectionError, OSError, ValueError, KeyError, TypeError):
            pass
        time.sleep(0.25)
    raise SystemExit(f"demo: timed out waiting for {what}")


# Each child's whole output goes to a file in the demo's folder (up to LOG_FILE_LIMIT bytes); the
# console gets a bounded share, so a child that floods its output (a busy loop, a retry storm) cannot
# drown the walkthrough: a line repeated (timestamps aside) is shown once with a count, and at most a
# burst of ECHO_BURST lines, then ECHO_PER_SECOND a second, with a count of the lines left out.
ECHO_BURST, ECHO_PER_SECOND, NOTE_EVERY, LOG_FILE_LIMIT = 60, 5, 10.0, 20 * 1024 * 1024
TIMESTAMP = re.compile(r"^\d\d:\d\d:\d\d\.\d+ ")


class Echo:
    """What the console shows of one child's output."""

    def __init__(self, prefix, log_path):
        self.prefix, self.log_path = prefix, log_path
        self.budget, self.refilled = ECHO_BURST, time.monotonic()
        self.last, self.repeats, self.skipped, self.noted = None, 0, 0, time.monotonic()

    def line(self, text):
        now = time.monotonic()
        message = TIMESTAMP.sub("", text)
        if message == self.last:
            self.repeats += 1
            if now - self.noted >= NOTE_EVERY:
                self.flush_repeats("so far")
            return
        self.flush_repeats()
        self.last = message
        self.budget = min(ECHO_BURST, self.budget + (now - self.refilled) * ECHO_PER_SECOND)
        self.refilled = now
        if self.budget < 1:
            self.skipped += 1
            return
        self.budget -= 1
        self.flush_skipped()
        self.show(text)

    def close(self):
        self.flush_repeats()
        self.flush_skipped()

    def flush_repeats(self, suffix=""):
        if self.repeats:
            self.show(f"... the line above {self.repeats} more times{' ' + suffix if suffix else ''} (all in {self.log_path})")
            self.repeats = 0
        self.noted = time.monotonic()

    def flush_skipped(self):
        if self.skipped:
            self.show(f"... {self.skipped} lines not shown here (all in {self.log_path})")
            self.skipped = 0

    def show(self, text):
        say(f"      {self.prefix} | {text}")


def start(args, env, prefix, log_path):
    process = subprocess.Popen(args, env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, bufsize=1, errors="replace", start_new_session=True)
    children.append(process)

    def pump():
        echo, written = Echo(prefix, log_path), 0
        with open(log_path, "w", encoding="utf-8", buffering=1) as log_file:
            for line in process.stdout:
                if written < LOG_FILE_LIMIT:
                    log_file.write(line)
                    written += len(line)
                    if written >= LOG_FILE_LIMIT:
                        log_file.write(f"[demo: this log stops here, at {LOG_FILE_LIMIT // (1024 * 1024)} MB]\n")
                if not any(noise in line for noise in QUIET_LOGS):
                    echo.line(line.rstrip())
        echo.close()

    pumps.append(threading.Thread(target=pump, daemon=True))
    pumps[-1].start()
    return process


def stop_all():
    """The agents first (they still need the registry to cancel their leases), the registry last."""
    agents, registry = children[1:], children[:1]
    try:
        for group in (agents, registry):
            for process in group:
                if process.poll() is None:
                    process.send_signal(signal.SIGTERM)
            for process in group:
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
    except KeyboardInterrupt:
        # A second Ctrl-C: no more waiting (each child runs in its own session: it did not get the signal).
        for process in children:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
        say("demo: stopped at once (second Ctrl-C)")
    for pump in pumps:
        pump.join(timeout=2)  # their last lines (counts of what was not shown) before "finished"


def build_agent():
    """The agent's command: the one the tests built, or a Release build made now."""
    prebuilt = os.environ.get("SIDECAR_AGENT_DLL")  # the tests pass the agent they built
    if prebuilt:
        return ["dotnet", prebuilt]
    step(0, "Building the agent (dotnet build -c Release)")
    build = subprocess.run(["dotnet", "build", os.path.join(ROOT, "agent"), "-c", "Release", "-v", "quiet", "-nologo"])
    if build.returncode != 0:
        raise SystemExit(f"demo: the build failed (dotnet build exited with {build.returncode}); nothing was started")
    return ["dotnet", os.path.join(ROOT, "agent", "bin", "Release", "net10.0", "agent.dll")]


def postgres_installed():
    return bool(shutil.which("postgres") and shutil.which("initdb")) or bool(glob.glob("/usr/lib/postgresql/*/bin/postgres"))


def fixed_port():
    """A port for what needs one written in its settings (PostgreSQL's, a TCP listener): bound once, then released."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def grpc_example_ready():
    """examples/node-grpc needs its npm packages (package-lock.json pins them): None when they are there, else why not."""
    folder = os.path.join(ROOT, "examples", "node-grpc")
    if not shutil.which("npm"):
        return "npm is not installed (the gRPC example needs @grpc/grpc-js from npm)"
    with open(os.path.join(folder, "package.json")) as f:
        pinned = json.load(f)["dependencies"]
    try:
        if all(json.load(open(os.path.join(folder, "node_modules", *name.split("/"), "package.json")))["version"] == version
               for name, version in pinned.items()):
            return None
    except (OSError, ValueError, KeyError):
        pass
    say("    installing examples/node-grpc's packages (npm ci)")
    install = subprocess.run(["npm", "ci", "--prefix", folder, "--no-audit", "--no-fund"], capture_output=True, text=True)
    if install.returncode != 0:
        last = (install.stderr.strip().splitlines() or ["no output"])[-1]
        return f"npm ci failed in examples/node-grpc ({last})"
    return None


def grpc_call(agent_grpc, name):
    """examples/node-grpc/client.js through an agent's gRPC port: its JSON lines, and whether every call succeeded."""
    run = subprocess.run(["node", os.path.join(ROOT, "examples", "node-grpc", "client.js"), f"127.0.0.1:{agent_grpc}", "greeter", name, "2"],
                         capture_output=True, text=True, timeout=30)
    return run.returncode == 0, [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]


def eureka_status(registry, app):
    status, body = get_json(f"{registry}/eureka/apps/{app.upper()}")
    if status != 200:
        return "not registered"
    instances = body["application"]["instance"]
    instances = instances if isinstance(instances, list) else [instances]
    return ", ".join(f"{i['instanceId']} {i['status']}" for i in instances)


def main():
    try:
        agent = build_agent()
    except KeyboardInterrupt:
        # dotnet build got the Ctrl-C too (same terminal); subprocess.run has stopped it: a line, not a traceback.
        say("\ndemo: stopped during the build (Ctrl-C); nothing was started")
        return 130

    work = tempfile.mkdtemp(prefix="sidecar-demo-")
    if os.geteuid() == 0:
        os.chmod(work, 0o755)  # as root, PostgreSQL runs as its own user (examples/postgres) and must reach its folder
    python_config = os.path.join(work, "python-app.yml")
    node_config = os.path.join(work, "node-app.yml")
    with open(python_config, "w") as f:
        f.write("message: hello from python-app's config file\n")
    with open(node_config, "w") as f:
        f.write("greeting:\n  text: hello\n")

    logs = {name: os.path.join(work, f"{name}.log") for name in ("registry", "python-app", "node-app", "postgres", "greeter")}
    with_postgres = postgres_installed()
    grpc_skipped = grpc_example_ready()
    db_listener = fixed_port()  # python-app's agent: connections to 127.0.0.1:db_listener go to an instance of postgres
    common = {
        "APP_HOST": "127.0.0.1", "APP_IP": "127.0.0.1", "EUREKA_PREFER_IP": "true",
        # Demo timings, so the walkthrough takes seconds (production defaults are 30s and 5s).
        "EUREKA_RENEW_INTERVAL": "2s", "EUREKA_FETCH_INTERVAL": "1s",
        "APP_HEALTH_INTERVAL": "1s", "APP_HEALTH_FAILURE_THRESHOLD": "2",
        "CONFIG_POLL_INTERVAL": "1s", "SIDECAR_DRAIN": "1s",
        "SIDECAR_DATA_DIR": os.path.join(work, "data"),
    }

    try:
        step(1, "Starting the dev registry, then each app under its own agent (agent run -- ...)")
        show("every child's whole output", os.path.join(work, "*.log"))
        start(agent + ["registry", "--port", "0"], {}, "registry   ", logs["registry"])
        registry = f"http://127.0.0.1:{port_in_log('the dev registry', logs['registry'], r'EUREKA_URLS=http://127[.]0[.]0[.]1:([0-9]+)/eureka/')}"
        common["EUREKA_URLS"] = f"{registry}/eureka/"
        wait_for("the dev registry", lambda: http("GET", f"{registry}/eureka/apps/", headers={"Accept": "application/json"})[0] == 200)
        # Each agent on port 0; each app on the free port its agent picks (agent run without APP_PORT).
        tcp = {"SIDECAR_TCP_LISTENERS": f"{db_listener}=postgres", "DB_PORT": str(db_listener)} if with_postgres else {}
        grpc = {} if grpc_skipped else {"SIDECAR_GRPC_PORT": "0"}  # a second listener, for gRPC clients (HTTP/2 only)
        start(agent + ["run", "--", sys.executable, os.path.join(ROOT, "examples", "python-app", "app.py")],
              {**common, "APP_NAME": "python-app", "SIDECAR_PORT": "0", "CONFIG_FILE": python_config,
               "SIDECAR_DATA_DIR": os.path.join(work, "data-python"), **tcp, **grpc}, "python-app ", logs["python-app"])
        # node-app calls through its agent as HTTP proxy: without HTTP_PROXY it takes SIDECAR_URL for it.
        start(agent + ["run", "--", "node", os.path.join(ROOT, "examples", "node-app", "app.js")],
              {**common, "APP_NAME": "node-app", "SIDECAR_PORT": "0", "CONFIG_FILE": node_config,
               "NO_PROXY": "", "SIDECAR_DATA_DIR": os.path.join(work, "data-node")}, "node-app   ", logs["node-app"])
        agent_address = r"listening on http://127[.]0[.]0[.]1:([0-9]+)"
        python_agent = f"http://127.0.0.1:{port_in_log('python-app agent', logs['python-app'], agent_address)}"
        node_agent = f"http://127.0.0.1:{port_in_log('node-app agent', logs['node-app'], agent_address)}"
        node_port = port_in_log("node-app", logs["node-app"], r"\[node-app\] listening on [^ ]+:([0-9]+),")
        if not grpc_skipped:
            # The start-up line names the API, then the gRPC port.
            python_grpc = port_in_log("python-app agent's gRPC port", logs["python-app"], r"listening on http://[^,]+, http://127[.]0[.]0[.]1:([0-9]+)")
            greeter_port = fixed_port()
            start(agent + ["run", "--", "node", os.path.join(ROOT, "examples", "node-grpc", "server.js")],
                  {**common, "APP_NAME": "greeter", "APP_PORT": str(greeter_port), "SIDECAR_PORT": "0",
                   "APP_HEALTH_URL": f"grpc://127.0.0.1:{greeter_port}/greeter.Greeter",
                   "SIDECAR_DATA_DIR": os.path.join(work, "data-greeter")}, "greeter    ", logs["greeter"])

        if with_postgres:
            start(["bash", os.path.join(ROOT, "examples", "postgres", "run.sh")],
                  {**common, "AGENT": " ".join(agent), "PG_PORT": str(fixed_port()), "PGDATA": os.path.join(work, "pg", "data"),
                   "SIDECAR_PORT": "0", "SIDECAR_DATA_DIR": os.path.join(work, "data-postgres")},
                  "postgres   ", logs["postgres"])

        step(2, "Both apps are healthy and registered in Eureka")
        wait_for("python-app UP in Eureka", lambda: eureka_status(registry, "python-app").endswith(" UP"))
        wait_for("node-app UP in Eureka", lambda: eureka_status(registry, "node-app").endswith(" UP"))
        show("Eureka: PYTHON-APP", eureka_status(registry, "python-app"))
        show("Eureka: NODE-APP", eureka_status(registry, "node-app"))
        wait_for("each agent to know the other service",
                 lambda: get_json(f"{python_agent}/v1/services/node-app/instances")[0] == 200
                 and get_json(f"{node_agent}/v1/services/python-app/instances")[0] == 200)
        show("python-app's agent knows", [s["name"] for s in get_json(f"{python_agent}/v1/services")[1]["services"]])

        step(3, "A call that crosses both services through discovery")
        wait_for("python-app -> node-app", lambda: get_json(f"{python_agent}/v1/invoke/python-app/greet")[0] == 200)
        show("python-app /greet (via /v1/invoke)", get_json(f"{python_agent}/v1/invoke/python-app/greet")[1])
        wait_for("node-app -> python-app", lambda: get_json(f"{node_agent}/v1/invoke/node-app/chain")[0] == 200)
        show("node-app /chain (via HTTP_PROXY)", get_json(f"{node_agent}/v1/invoke/node-app/chain")[1])

        step(4, "A config edit reaches the app: node-app's greeting.text becomes 'bonjour'")
        show("before: node-app /config", get_json(f"{node_agent}/v1/invoke/node-app/config")[1])
        with open(node_config, "w") as f:
            f.write("greeting:\n  text: bonjour\n")
        wait_for("node-app to hold the new config", lambda: get_json(f"{node_agent}/v1/invoke/node-app/config")[1]["config"].get("greeting.text") == "bonjour")
        show("after:  node-app /config", get_json(f"{node_agent}/v1/invoke/node-app/config")[1])
        show("python-app /greet", get_json(f"{python_agent}/v1/invoke/python-app/greet")[1])

        step(5, "node-app turns unhealthy: DOWN in Eureka, and python-app's agent stops sending to it")
        http("POST", f"http://127.0.0.1:{node_port}/admin/health", {"healthy": False})
        wait_for("node-app DOWN in Eureka", lambda: eureka_status(registry, "node-app").endswith(" DOWN"))
        show("Eureka: NODE-APP", eureka_status(registry, "node-app"))
        wait_for("python-app's agent to stop routing to node-app",
                 lambda: http("GET", f"{python_agent}/v1/invoke/node-app/greeting")[0] == 503)
        status, body, headers = http("GET", f"{python_agent}/v1/invoke/node-app/greeting")
        show("python-app's agent -> node-app", f"{status} {headers.get('X-Sidecar-Error')}: {json.loads(body)['detail']}")
        show("python-app /greet", get_json(f"{python_agent}/v1/invoke/python-app/greet")[1])

        step(6, "node-app heals: UP again, back in rotation")
        http("POST", f"http://127.0.0.1:{node_port}/admin/health", {"healthy": True})
        wait_for("node-app UP in Eureka", lambda: eureka_status(registry, "node-app").endswith(" UP"))
        wait_for("python-app -> node-app again", lambda: get_json(f"{python_agent}/v1/invoke/python-app/greet")[0] == 200)
        show("Eureka: NODE-APP", eureka_status(registry, "node-app"))
        show("python-app /greet", get_json(f"{python_agent}/v1/invoke/python-app/greet")[1])

        if with_postgres:
            step(7, "PostgreSQL, registered by its agent with a TCP health check, reached by name through a TCP listener")
            wait_for("postgres UP in Eureka", lambda: eureka_status(registry, "postgres").endswith(" UP"))
            show("Eureka: POSTGRES", eureka_status(registry, "postgres"))
            wait_for("python-app -> postgres", lambda: get_json(f"{python_agent}/v1/invoke/python-app/db")[0] == 200)
            show("python-app /db (TCP listener)", get_json(f"{python_agent}/v1/invoke/python-app/db")[1])
        else:
            step(7, "PostgreSQL: skipped, it is not installed (apt-get install -y postgresql; see examples/postgres)")

        if grpc_skipped:
            step(8, f"gRPC: skipped, {grpc_skipped}; see examples/node-grpc")
        else:
            step(8, "gRPC: greeter (grpc-js), registered with a gRPC health check, called by name through python-app's agent's gRPC port")
            wait_for("greeter UP in Eureka", lambda: eureka_status(registry, "greeter").endswith(" UP"))
            show("Eureka: GREETER", eureka_status(registry, "greeter"))
            wait_for("a gRPC call through the agent", lambda: grpc_call(python_grpc, "demo")[0])
            for reply in grpc_call(python_grpc, "demo")[1]:
                show(f"client.js -> 127.0.0.1:{python_grpc} (greeter)", reply)
            server_pid = port_in_log("greeter's pid", logs["greeter"], r"\[greeter\] listening on .* pid ([0-9]+)")
            os.kill(server_pid, signal.SIGUSR2)  # server.js: its health service answers NOT_SERVING
            wait_for("greeter DOWN in Eureka", lambda: eureka_status(registry, "greeter").endswith(" DOWN"))
            show("NOT_SERVING: Eureka: GREETER", eureka_status(registry, "greeter"))
            wait_for("python-app's agent to stop routing to greeter", lambda: not grpc_call(python_grpc, "demo")[0])
            show("client.js", grpc_call(python_grpc, "demo")[1][0])
            os.kill(server_pid, signal.SIGUSR2)
            wait_for("greeter UP in Eureka", lambda: eureka_status(registry, "greeter").endswith(" UP"))
            wait_for("a gRPC call through the agent", lambda: grpc_call(python_grpc, "demo again")[0])
            show("SERVING again: client.js", grpc_call(python_grpc, "demo again")[1][0])

        if KEEP:
            step(9, f"Running. Try: curl {python_agent}/v1/invoke/python-app/greet   (Ctrl-C stops everything)")
            while all(p.poll() is None for p in children):
                time.sleep(0.5)
        step("done", "Stopping: each agent takes its app OUT_OF_SERVICE, drains, stops the app, cancels its lease")
    except KeyboardInterrupt:
        step("^C", "Stopping")
    finally:
        stop_all()
    say(f"demo: finished (logs in {work})")
    return 0


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    sys.exit(main())
