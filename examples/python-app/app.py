#!/usr/bin/env python3
"""A tiny service that runs beside the sidecar agent (standard library only).

GET  /health         {"status":"UP"} (200) or {"status":"DOWN"} (503): what the agent probes
GET  /hello          a greeting
POST /admin/health   body {"healthy": false} makes /health fail, {"healthy": true} heals it
"""
import json
import os
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT = int(os.environ.get("APP_PORT", "8080"))
NAME = os.environ.get("APP_NAME", "python-app")
state = {"healthy": True}
lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    server_version = NAME

    def _send(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):  # noqa: N802 (http.server's naming)
        if self.path == "/health":
            with lock:
                healthy = state["healthy"]
            self._send(200 if healthy else 503, {"status": "UP" if healthy else "DOWN"})
        elif self.path == "/hello":
            self._send(200, {"message": f"hello from {NAME}"})
        else:
            self._send(404, {"error": "not found"})

    def do_POST(self):  # noqa: N802
        if self.path != "/admin/health":
            self._send(404, {"error": "not found"})
            return
        length = int(self.headers.get("Content-Length") or 0)
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
            healthy = bool(body["healthy"])
        except (ValueError, KeyError, TypeError):
            self._send(400, {"error": 'expected {"healthy": true|false}'})
            return
        with lock:
            state["healthy"] = healthy
        self._send(200, {"healthy": healthy})

    def log_message(self, fmt, *args):
        sys.stderr.write(f"[{NAME}] {self.command} {self.path}\n")


def main():
    server = ThreadingHTTPServer(("127.0.0.1", PORT), Handler)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    print(f"[{NAME}] listening on 127.0.0.1:{PORT}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    server.server_close()


if __name__ == "__main__":
    main()
