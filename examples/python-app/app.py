#!/usr/bin/env python3
"""python-app: a small service that lives beside the sidecar agent (standard library only).

It reads its settings from the agent (GET $SIDECAR_URL/v1/config, following changes by long-poll)
and calls node-app through the agent's /v1/invoke route: no Eureka client, no config client,
no retry library in the app.

Routes:
  GET  /health        {"status":"UP"} (200) or {"status":"DOWN"} (503): what the agent probes
  GET  /hello         {"from":"python-app","message":<config "message">}
  GET  /greet         calls node-app's /greeting through the agent, returns both answers
  GET  /config        the settings this app currently holds, with their version
  GET  /db            asks PostgreSQL, through the agent's TCP listener DB_PORT, whether it takes TLS:
                      its one-byte answer proves a real server answered (no database driver needed)
  POST /admin/health  body {"healthy": false|true}: make /health fail or heal (for the demo)

Environment (`agent run` sets APP_PORT and SIDECAR_URL; the others only come from its environment):
  APP_PORT      port to listen on (default 8080)
  APP_BIND      address to listen on (default 0.0.0.0: Eureka sends callers to the pod IP, not to loopback)
  SIDECAR_URL   the agent (default http://127.0.0.1:8078)
  APP_NAME      the name in logs (default python-app)
  PEER_SERVICE  the service /greet calls (default node-app)
  DB_PORT       the agent's TCP listener to the postgres service (SIDECAR_TCP_LISTENERS=15432=postgres); unset: /db is 404
"""
import json
import os
import signal
import socket
import struct
import sys
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT = int(os.environ.get("APP_PORT", "8080"))
BIND = os.environ.get("APP_BIND", "0.0.0.0")
NAME = os.environ.get("APP_NAME", "python-app")
SIDECAR = os.environ.get("SIDECAR_URL", "http://127.0.0.1:8078").rstrip("/")
PEER = os.environ.get("PEER_SERVICE", "node-app")
DB_PORT = os.environ.get("DB_PORT")

# Calls go to the agent on loopback: never through a proxy from the environment.
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
state = {"healthy": True, "config": {}, "version": None}
lock = threading.Lock()


def log(text):
    print(f"[{NAME}] {text}", flush=True)


WAIT_SECONDS = 30
# An answer much sooner than the wait asked for, that brings nothing new (a 304 from an agent that is
# stopping, an error, a refused connection), is followed by a pause before the next poll: without
# one the loop would ask thousands of times a second. 1 s, doubling on each early answer in a row, up to 5 s.
FIRST_PAUSE, LONGEST_PAUSE = 1.0, 5.0


def follow_config():
    """Long-polls the agent's /v1/config: answers at once when the config changes, 304 after 30 s."""
    etag, held = None, False
    pause = FIRST_PAUSE
    while True:
        headers = {"If-None-Match": etag} if etag else {}
        request = urllib.request.Request(f"{SIDECAR}/v1/config?wait={WAIT_SECONDS}s", headers=headers)
        started = time.monotonic()
        news, problem = False, None
        try:
            with opener.open(request, timeout=WAIT_SECONDS + 10) as response:
                config = json.loads(response.read() or b"{}")
                news = not held or response.headers.get("ETag") != etag
                etag, held = response.headers.get("ETag"), True
                with lock:
                    state["config"], state["version"] = config, etag
                if news:
                    log(f"config version {etag}: message={config.get('message')!r}")
        except urllib.error.HTTPError as error:
            if error.code != 304:
                problem = f"the agent answered {error.code}"
        except (urllib.error.URLError, OSError, ValueError) as error:
            problem = str(error)
        if news or time.monotonic() - started >= WAIT_SECONDS / 2:
            pause = FIRST_PAUSE  # a change, or a poll that really waited: ask again at once
            if problem:
                log(f"config: {problem}; retrying")
            continue
        if problem:
            log(f"config: {problem}; retrying in {pause:.0f} s")
        time.sleep(pause)
        pause = min(pause * 2, LONGEST_PAUSE)


class Handler(BaseHTTPRequestHandler):
    server_version = NAME
    protocol_version = "HTTP/1.1"

    def send_json(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):  # noqa: N802 (http.server's naming)
        with lock:
            healthy, config, version = state["healthy"], dict(state["config"]), state["version"]
        if self.path == "/health":
            self.send_json(200 if healthy else 503, {"status": "UP" if healthy else "DOWN"})
        elif self.path == "/hello":
            self.send_json(200, {"from": NAME, "message": config.get("message", "hello")})
        elif self.path == "/config":
            self.send_json(200, {"version": version, "config": config})
        elif self.path == "/greet":
            self.greet()
        elif self.path == "/db" and DB_PORT:
            self.db()
        else:
            self.send_json(404, {"error": "not found"})

    def greet(self):
        # Through the agent: it finds node-app in Eureka, balances, retries safely, ejects bad instances.
        url = f"{SIDECAR}/v1/invoke/{PEER}/greeting"
        try:
            with opener.open(url, timeout=10) as response:
                peer = json.loads(response.read())
            self.send_json(200, {"from": NAME, "peer": peer})
        except urllib.error.HTTPError as error:
            # The agent's own errors carry X-Sidecar-Error (unknown service, no instance, deadline...).
            self.send_json(502, {"from": NAME, "error": error.headers.get("X-Sidecar-Error") or f"{PEER} answered {error.code}"})
        except (urllib.error.URLError, OSError) as error:
            self.send_json(502, {"from": NAME, "error": str(error)})

    def db(self):
        # Through the agent's TCP listener: it picks an instance of postgres (from Eureka or ROUTES),
        # retries another when one refuses, and relays the bytes. PostgreSQL's SSLRequest (protocol
        # code 80877103) is answered with one byte, S or N, before any authentication.
        try:
            with socket.create_connection(("127.0.0.1", int(DB_PORT)), timeout=5) as db:
                db.sendall(struct.pack("!ii", 8, 80877103))
                answer = db.recv(1).decode("ascii", "replace")
        except OSError as error:
            self.send_json(502, {"from": NAME, "error": f"database: {error or 'connection closed'}"})
            return
        if answer not in ("S", "N"):
            self.send_json(502, {"from": NAME, "error": "database: no PostgreSQL answer (the agent closed the connection: no instance?)"})
            return
        self.send_json(200, {"from": NAME, "database": "postgres", "via": f"127.0.0.1:{DB_PORT}", "tls": answer == "S"})

    def do_POST(self):  # noqa: N802
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        if self.path != "/admin/health":
            self.send_json(404, {"error": "not found"})
            return
        try:
            healthy = bool(json.loads(raw or b"{}")["healthy"])
        except (ValueError, KeyError, TypeError):
            self.send_json(400, {"error": 'expected {"healthy": true|false}'})
            return
        with lock:
            state["healthy"] = healthy
        log(f"/health now answers {'UP' if healthy else 'DOWN'}")
        self.send_json(200, {"healthy": healthy})

    def log_message(self, fmt, *args):
        pass  # the agent logs every call that goes through it


def main():
    server = ThreadingHTTPServer((BIND, PORT), Handler)
    server.daemon_threads = True
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    threading.Thread(target=follow_config, daemon=True).start()
    log(f"listening on {BIND}:{PORT}, agent at {SIDECAR}")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    server.server_close()
    log("stopped")


if __name__ == "__main__":
    main()
