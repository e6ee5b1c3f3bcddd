#!/usr/bin/env node
// node-app: a small service that lives beside the sidecar agent (no npm dependencies).
//
// It reads its settings from the agent (GET $SIDECAR_URL/v1/config, following changes by long-poll)
// and calls python-app through the agent used as an HTTP proxy (HTTP_PROXY=http://127.0.0.1:8078):
// the request line names the service (GET http://python-app/hello), the agent resolves it.
//
// Routes:
//   GET  /health        {"status":"UP"} (200) or {"status":"DOWN"} (503): what the agent probes
//   GET  /greeting      {"from":"node-app","text":<config "greeting.text">}
//   GET  /chain         calls python-app's /hello through the agent as proxy
//   GET  /config        the settings this app currently holds, with their version
//   POST /admin/health  body {"healthy": false|true}: make /health fail or heal (for the demo)
'use strict';
const http = require('node:http');

const PORT = Number(process.env.APP_PORT || 3000);
// 0.0.0.0 by default: Eureka sends callers to the pod IP (APP_IP), which an app bound to 127.0.0.1 refuses.
const BIND = process.env.APP_BIND || '0.0.0.0';
const NAME = process.env.APP_NAME || 'node-app';
const SIDECAR = (process.env.SIDECAR_URL || 'http://127.0.0.1:8078').replace(/\/$/, '');
const PROXY = new URL(process.env.HTTP_PROXY || process.env.http_proxy || SIDECAR);
const PEER = process.env.PEER_SERVICE || 'python-app';

const state = { healthy: true, config: {}, version: null };
const log = (text) => console.log(`[${NAME}] ${text}`);

// A GET as JSON, with options passed to http.request (host, port, path, headers).
function getJson(options, timeoutMs) {
  return new Promise((resolve, reject) => {
    const req = http.request({ method: 'GET', ...options }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => { body += chunk; });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body }));
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`timed out after ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

const WAIT_SECONDS = 30;
// An answer much sooner than the wait asked for, that brings nothing new (a 304 from an agent that is
// stopping, an error, a refused connection), is followed by a pause before the next poll: without one
// the loop would ask thousands of times a second. 1 s, doubling on each early answer in a row, up to 5 s.
const FIRST_PAUSE_MS = 1000;
const LONGEST_PAUSE_MS = 5000;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Long-polls the agent's /v1/config: it answers at once when the config changes, 304 after 30 s.
async function followConfig() {
  const sidecar = new URL(SIDECAR);
  let etag = null;
  let held = false;
  let pause = FIRST_PAUSE_MS;
  for (;;) {
    const started = Date.now();
    let news = false;
    let problem = null;
    try {
      const res = await getJson({
        host: sidecar.hostname, port: sidecar.port, path: `/v1/config?wait=${WAIT_SECONDS}s`,
        headers: etag ? { 'If-None-Match': etag } : {},
      }, (WAIT_SECONDS + 10) * 1000);
      if (res.status === 200) {
        const config = JSON.parse(res.body || '{}');
        const version = res.headers.etag || null;
        news = !held || version !== etag;
        state.config = config;
        state.version = etag = version;
        held = true;
        if (news) {
          log(`config version ${etag}: greeting.text=${JSON.stringify(state.config['greeting.text'])}`);
        }
      } else if (res.status !== 304) {
        problem = `the agent answered ${res.status}`;
      }
    } catch (err) {
      problem = err.message;
    }
    if (news || Date.now() - started >= (WAIT_SECONDS * 1000) / 2) {
      pause = FIRST_PAUSE_MS; // a change, or a poll that really waited: ask again at once
      if (problem) {
        log(`config: ${problem}; retrying`);
      }
      continue;
    }
    if (problem) {
      log(`config: ${problem}; retrying in ${pause / 1000} s`);
    }
    await sleep(pause);
    pause = Math.min(pause * 2, LONGEST_PAUSE_MS);
  }
}

function send(res, code, body) {
  const data = JSON.stringify(body);
  res.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(data) });
  res.end(data);
}

async function chain(res) {
  try {
    // Forward-proxy form: connect to the agent, ask for the absolute URL of the service.
    const peer = await getJson({
      host: PROXY.hostname, port: PROXY.port, path: `http://${PEER}/hello`, headers: { Host: PEER },
    }, 10000);
    if (peer.status !== 200) {
      send(res, 502, { from: NAME, error: peer.headers['x-sidecar-error'] || `${PEER} answered ${peer.status}` });
      return;
    }
    send(res, 200, { from: NAME, peer: JSON.parse(peer.body) });
  } catch (err) {
    send(res, 502, { from: NAME, error: err.message });
  }
}

const server = http.createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/health') {
    send(res, state.healthy ? 200 : 503, { status: state.healthy ? 'UP' : 'DOWN' });
  } else if (req.method === 'GET' && req.url === '/greeting') {
    send(res, 200, { from: NAME, text: state.config['greeting.text'] || 'hello' });
  } else if (req.method === 'GET' && req.url === '/config') {
    send(res, 200, { version: state.version, config: state.config });
  } else if (req.method === 'GET' && req.url === '/chain') {
    chain(res);
  } else if (req.method === 'POST' && req.url === '/admin/health') {
    let raw = '';
    req.on('data', (chunk) => { raw += chunk; });
    req.on('end', () => {
      let healthy;
      try {
        healthy = JSON.parse(raw || '{}').healthy;
      } catch {
        healthy = undefined;
      }
      if (typeof healthy !== 'boolean') {
        send(res, 400, { error: 'expected {"healthy": true|false}' });
        return;
      }
      state.healthy = healthy;
      log(`/health now answers ${healthy ? 'UP' : 'DOWN'}`);
      send(res, 200, { healthy });
    });
  } else {
    send(res, 404, { error: 'not found' });
  }
});

server.listen(PORT, BIND, () => log(`listening on ${BIND}:${PORT}, agent at ${SIDECAR}, proxy ${PROXY.host}`));
followConfig();
const stop = () => { log('stopping'); server.close(() => process.exit(0)); setTimeout(() => process.exit(0), 2000).unref(); };
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
