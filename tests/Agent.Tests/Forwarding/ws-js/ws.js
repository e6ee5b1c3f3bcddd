// A real WebSocket server and client from npm's ws, for Forwarding/WebSocketForwardingTests.cs.
//   node ws.js server               an echo instance: prints {"port":N}; "close-me" closes with 4000;
//                                   GET /refuse answers the handshake 426 with a body; headers seen go to stderr
//   node ws.js client MODE AGENT_PORT SERVICE WAY [TRACEPARENT]
//     WAY: invoke (/v1/invoke/SERVICE/echo), proxy (absolute-form GET http://SERVICE/echo), host (Host: SERVICE)
//     MODE: echo (text and binary both ways, then the client closes), server-close (the instance closes),
//           hold (one echo, then wait for the close), refused (handshake to /refuse)
//     TRACEPARENT: sent as the handshake's traceparent
// Each event is one JSON line on stdout.
'use strict';
const http = require('http');
const { WebSocket, WebSocketServer } = require('ws');

const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');

if (process.argv[2] === 'server') {
  const wss = new WebSocketServer({ noServer: true });
  const server = http.createServer((req, res) => { res.writeHead(200); res.end('plain'); });
  server.on('upgrade', (req, socket, head) => {
    if (req.url.startsWith('/refuse')) {
      socket.end('HTTP/1.1 426 Upgrade Required\r\nContent-Type: text/plain\r\nContent-Length: 12\r\nX-Refused: yes\r\nConnection: close\r\n\r\nnot for you\n');
      return;
    }
    process.stderr.write(JSON.stringify({ url: req.url, headers: req.headers }) + '\n');
    wss.handleUpgrade(req, socket, head, (ws) => {
      ws.on('message', (data, isBinary) => {
        if (!isBinary && data.toString() === 'close-me') {
          ws.close(4000, 'asked');
          return;
        }
        ws.send(data, { binary: isBinary });
      });
    });
  });
  server.listen(0, '127.0.0.1', () => out({ port: server.address().port }));
} else {
  const [, , , mode, agentPort, service, way, traceparent] = process.argv;
  const path = mode === 'refused' ? '/refuse' : '/echo';
  const options = { headers: {} };
  if (traceparent) {
    options.headers.traceparent = traceparent;
  }
  let url = `ws://127.0.0.1:${agentPort}${path}`;
  if (way === 'invoke') {
    url = `ws://127.0.0.1:${agentPort}/v1/invoke/${service}${path}`;
  } else if (way === 'host') {
    options.headers.host = service;
  } else if (way === 'proxy') {
    // As a client with HTTP_PROXY does: connect to the proxy, name the whole URL in the request line.
    options.headers.host = service;
    options.finishRequest = (req) => { req.path = `http://${service}${path}`; req.end(); };
  }

  const started = Date.now();
  const ws = new WebSocket(url, options);
  ws.on('unexpected-response', (req, res) => {
    let body = '';
    res.on('data', (d) => { body += d; });
    res.on('end', () => {
      out({ status: res.statusCode, headers: res.headers, body });
      process.exit(0);
    });
  });
  ws.on('error', (e) => { out({ error: e.message }); process.exit(0); });
  const received = [];
  ws.on('open', () => {
    out({ open: true });
    ws.send('hello');
  });
  ws.on('message', (data, isBinary) => {
    received.push(isBinary ? { binary: [...data] } : { text: data.toString() });
    out(received[received.length - 1]);
    if (mode === 'hold') {
      return;
    }
    if (received.length === 1) {
      ws.send(Buffer.from([0, 1, 2, 254, 255]));
    } else if (received.length === 2) {
      if (mode === 'server-close') {
        ws.send('close-me');
      } else {
        ws.close(1000, 'done');
      }
    }
  });
  ws.on('close', (code) => {
    out({ close: code, ms: Date.now() - started });
    process.exit(0);
  });
}
