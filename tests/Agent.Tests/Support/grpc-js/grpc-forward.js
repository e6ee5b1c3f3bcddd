// Real gRPC peers (@grpc/grpc-js) for tests/Agent.Tests/Forwarding/Grpc/GrpcForwardingTests.cs, the agent between them.
//   node grpc-forward.js server NAME [unavailable]
//                                           an Echo instance (echo.proto) on 127.0.0.1:0: prints {"port":N};
//                                           unavailable: every Unary ends UNAVAILABLE (no message); calls go to stderr
//   node grpc-forward.js http1              an HTTP/1.1-only server (node's http): prints {"port":N}
//   node grpc-forward.js client PORT SERVICE WAY MODE [DEADLINE_MS]
//     WAY: authority (grpc.default_authority = SERVICE) or invoke (/v1/invoke/SERVICE/ before each method path)
//     MODE: unary, server-stream, client-stream, bidi (one message, wait for its echo, then the next),
//           fail (the instance ends with DATA_LOSS, a message and a custom trailer), slow (the instance waits 3 s),
//           unary-many (10 unary calls)
// Each event is one JSON line on stdout: {"reply":...}, {"status":{code,details,metadata}}, {"error":...}.
'use strict';
const path = require('path');
const http = require('http');
const grpc = require('@grpc/grpc-js');
const loader = require('@grpc/proto-loader');

const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const definition = loader.loadSync(path.join(__dirname, 'echo.proto'), { keepCase: false, longs: Number, defaults: true });
const Echo = grpc.loadPackageDefinition(definition).echo.Echo;
const methods = definition['echo.Echo'];

function headersOf(call) {
  const m = call.metadata.getMap();
  const pick = {};
  for (const k of ['via', 'traceparent', 'x-forwarded-for', 'grpc-timeout', 'x-custom']) {
    if (m[k] !== undefined) pick[k] = String(m[k]);
  }
  return pick;
}

function deadlineOf(call) {
  const d = call.getDeadline();
  return d instanceof Date ? d.getTime() - Date.now() : (d === Infinity || d === undefined ? -1 : d - Date.now());
}

function server(name, unavailable) {
  const s = new grpc.Server();
  s.addService(Echo.service, {
    unary(call, callback) {
      const r = call.request;
      process.stderr.write(JSON.stringify({ call: 'unary', text: r.text }) + '\n');
      if (unavailable) { callback({ code: grpc.status.UNAVAILABLE, details: `${name} is unavailable` }); return; }
      const answer = () => {
        if (r.failCode) {
          const trailer = new grpc.Metadata();
          trailer.set('x-custom-trailer', 'trailer-value');
          callback({ code: r.failCode, details: r.failMessage, metadata: trailer });
          return;
        }
        const trailer = new grpc.Metadata();
        trailer.set('x-done', 'yes');
        callback(null, { text: r.text, server: name, headers: headersOf(call), deadlineMs: deadlineOf(call) }, trailer);
      };
      if (r.delayMs) setTimeout(answer, r.delayMs); else answer();
    },
    serverStream(call) {
      const r = call.request;
      let i = 0;
      const next = () => {
        if (i >= r.count) { call.end(); return; }
        call.write({ text: `${r.text}-${i++}`, server: name });
        setTimeout(next, 20);
      };
      next();
    },
    clientStream(call, callback) {
      const texts = [];
      call.on('data', (m) => texts.push(m.text));
      call.on('end', () => callback(null, { text: texts.join(','), server: name }));
    },
    bidi(call) {
      call.on('data', (m) => call.write({ text: m.text, server: name }));
      call.on('end', () => call.end());
    },
  });
  s.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) => {
    if (err) { out({ error: String(err) }); process.exit(1); }
    out({ port });
  });
}

function http1() {
  const s = http.createServer((req, res) => { res.writeHead(200, { 'content-type': 'text/plain' }); res.end('HTTP/1.1 only\n'); });
  s.listen(0, '127.0.0.1', () => out({ port: s.address().port }));
}

function statusOf(s) {
  return { code: s.code, details: s.details, metadata: s.metadata ? s.metadata.getMap() : {} };
}

async function client(port, service, way, mode, deadlineMs) {
  const options = way === 'authority' ? { 'grpc.default_authority': service } : {};
  const c = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), options);
  const prefix = way === 'invoke' ? `/v1/invoke/${service}` : '';
  const callOptions = deadlineMs ? { deadline: Date.now() + Number(deadlineMs) } : {};
  const m = (name) => [prefix + methods[name].path, methods[name].requestSerialize, methods[name].responseDeserialize];
  const finish = (call) => new Promise((resolve) => call.on('status', (s) => { out({ status: statusOf(s) }); resolve(); }));

  const unary = (request) => {
    const call = c.makeUnaryRequest(...m('Unary'), request, new grpc.Metadata(), callOptions, (err, reply) => {
      if (err) out({ error: { code: err.code, details: err.details } }); else out({ reply });
    });
    return finish(call);
  };

  if (mode === 'unary') await unary({ text: 'hello' });
  else if (mode === 'unary-many') { for (let i = 0; i < 10; i++) await unary({ text: `n${i}` }); }
  else if (mode === 'fail') await unary({ text: 'x', failCode: grpc.status.DATA_LOSS, failMessage: 'broken on purpose: é%' });
  else if (mode === 'slow') await unary({ text: 'x', delayMs: 3000 });
  else if (mode === 'server-stream') {
    const call = c.makeServerStreamRequest(...m('ServerStream'), { text: 's', count: 5 }, new grpc.Metadata(), callOptions);
    call.on('data', (reply) => out({ reply }));
    call.on('error', (err) => out({ error: { code: err.code, details: err.details } }));
    await finish(call);
  } else if (mode === 'client-stream') {
    const call = c.makeClientStreamRequest(...m('ClientStream'), new grpc.Metadata(), callOptions, (err, reply) => {
      if (err) out({ error: { code: err.code, details: err.details } }); else out({ reply });
    });
    const done = finish(call);
    for (const t of ['a', 'b', 'c']) call.write({ text: t });
    call.end();
    await done;
  } else if (mode === 'bidi') {
    const call = c.makeBidiStreamRequest(...m('Bidi'), new grpc.Metadata(), callOptions);
    const done = finish(call);
    call.on('error', (err) => out({ error: { code: err.code, details: err.details } }));
    const replies = [];
    let waiting = null;
    call.on('data', (reply) => { replies.push(reply); out({ reply }); if (waiting) { const w = waiting; waiting = null; w(); } });
    for (const t of ['one', 'two', 'three']) {
      const echoed = new Promise((resolve) => { waiting = resolve; });
      call.write({ text: t });
      await echoed; // the next message only after this one's echo: a relay that buffers never gets here
    }
    call.end();
    await done;
  } else {
    out({ error: `unknown mode ${mode}` });
  }
  c.close();
}

const [, , role, ...args] = process.argv;
if (role === 'server') server(args[0], args[1] === 'unavailable');
else if (role === 'http1') http1();
else if (role === 'client') client(Number(args[0]), args[1], args[2], args[3], args[4]).catch((e) => { out({ error: String(e) }); process.exit(1); });
else { out({ error: 'usage: server NAME [unavailable] | http1 | client PORT SERVICE WAY MODE [DEADLINE_MS]' }); process.exit(2); }
