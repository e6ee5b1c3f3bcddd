// Calls greeter.Greeter/SayHello through an agent's gRPC port (SIDECAR_GRPC_PORT): the target is named by
// :authority (grpc-js's grpc.default_authority), the agent finds the service's instances in Eureka and picks one.
//   node client.js 127.0.0.1:8081 [service] [name] [count]
// Prints one JSON line per call: {"message":..,"server":..} or {"error":..,"code":..}. Exits 1 if a call failed.
'use strict';
const path = require('path');
const grpc = require('@grpc/grpc-js');
const loader = require('@grpc/proto-loader');

const [agent = '127.0.0.1:8081', service = 'greeter', name = 'node-grpc client', count = '1'] = process.argv.slice(2);
const { Greeter } = grpc.loadPackageDefinition(loader.loadSync(path.join(__dirname, 'greeter.proto'), { keepCase: true })).greeter;

// The connection goes to the agent; :authority names the service, as a Host header does for HTTP/1.1.
const client = new Greeter(agent, grpc.credentials.createInsecure(), { 'grpc.default_authority': service });

let failed = false;
const call = (left) => {
  if (left === 0) {
    client.close();
    process.exit(failed ? 1 : 0);
  }
  client.SayHello({ name }, { deadline: Date.now() + 5000 }, (error, reply) => {
    if (error) {
      failed = true;
      console.log(JSON.stringify({ error: error.details, code: grpc.status[error.code] }));
    } else {
      console.log(JSON.stringify({ message: reply.message, server: reply.server }));
    }
    call(left - 1);
  });
};
call(Number(count));
