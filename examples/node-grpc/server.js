// A gRPC server (grpc-js) with the standard health service, meant to run under its agent:
//   APP_NAME=greeter APP_PORT=50051 APP_HEALTH_URL=grpc://127.0.0.1:50051 agent run -- node server.js
// The agent registers it in Eureka and calls grpc.health.v1.Health/Check on it (docs/app-health.md#grpc-checks).
// Serves greeter.Greeter/SayHello. SIGUSR2 flips its health (SERVING <-> NOT_SERVING), to watch Eureka follow.
'use strict';
const path = require('path');
const grpc = require('@grpc/grpc-js');
const loader = require('@grpc/proto-loader');

const PORT = Number(process.env.APP_PORT || 50051);
const BIND = process.env.APP_BIND || '127.0.0.1';
const NAME = process.env.APP_NAME || 'greeter';
const log = (text) => console.log(`[${NAME}] ${text}`);

const load = (file) => grpc.loadPackageDefinition(loader.loadSync(path.join(__dirname, file), { keepCase: true, enums: String, defaults: true }));
const { Greeter } = load('greeter.proto').greeter;
const { Health } = load('health.proto').grpc.health.v1;

// The empty name is the server as a whole; a service's full name asks about that one (grpc://host:port/greeter.Greeter).
let serving = 'SERVING';
const known = new Set(['', 'greeter.Greeter']);

const server = new grpc.Server();
server.addService(Greeter.service, {
  SayHello(call, callback) {
    callback(null, { message: `hello ${call.request.name || 'world'}`, server: `${NAME}:${PORT}` });
  },
});
server.addService(Health.service, {
  Check(call, callback) {
    if (!known.has(call.request.service)) {
      callback({ code: grpc.status.NOT_FOUND, details: `unknown service ${call.request.service}` });
      return;
    }
    callback(null, { status: serving });
  },
  Watch(call) {
    call.emit('error', { code: grpc.status.UNIMPLEMENTED, details: 'Watch is not served here' });
  },
});

process.on('SIGUSR2', () => {
  serving = serving === 'SERVING' ? 'NOT_SERVING' : 'SERVING';
  log(`health: ${serving}`);
});
// The agent sends SIGTERM after its drain: stop taking calls, let the running ones end.
process.on('SIGTERM', () => server.tryShutdown(() => process.exit(0)));

server.bindAsync(`${BIND}:${PORT}`, grpc.ServerCredentials.createInsecure(), (error, port) => {
  if (error) {
    console.error(`[${NAME}] cannot listen on ${BIND}:${PORT}: ${error.message}`);
    process.exit(1);
  }
  log(`listening on ${BIND}:${port} (gRPC, h2c), health SERVING, pid ${process.pid}`);
});
