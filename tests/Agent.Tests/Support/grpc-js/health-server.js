// A grpc-js server with the standard health service (health.proto), for the grpc:// health check tests.
//   node health-server.js '{"":"SERVING","orders":"NOT_SERVING"}' [port]   serves those statuses
//   node health-server.js none [port]                                      a gRPC server without the health service
// Prints {"port":N} once it listens (port 0 or none: a free one). Each stdin line {"service":"..","status":".."}
// sets a status and is answered {"set":".."} on stdout. Check for a service not in the map is NOT_FOUND, as the
// reference implementations answer (grpc/grpc doc/health-checking.md).
const path = require("path");
const readline = require("readline");
const grpc = require("@grpc/grpc-js");
const loader = require("@grpc/proto-loader");

const [spec = '{"":"SERVING"}', port = "0"] = process.argv.slice(2);
const server = new grpc.Server();
const statuses = spec === "none" ? null : new Map(Object.entries(JSON.parse(spec)));
if (statuses) {
  const definition = loader.loadSync(path.join(__dirname, "health.proto"), { keepCase: true, enums: String, defaults: true });
  const health = grpc.loadPackageDefinition(definition).grpc.health.v1.Health;
  server.addService(health.service, {
    Check(call, callback) {
      const status = statuses.get(call.request.service);
      if (status === undefined) {
        callback({ code: grpc.status.NOT_FOUND, details: "unknown service " + call.request.service });
      } else {
        callback(null, { status });
      }
    },
    Watch(call) {
      call.emit("error", { code: grpc.status.UNIMPLEMENTED, details: "Watch is not served here" });
    },
  });
}

server.bindAsync("127.0.0.1:" + port, grpc.ServerCredentials.createInsecure(), (error, bound) => {
  if (error) {
    console.error(String(error));
    process.exit(1);
  }
  console.log(JSON.stringify({ port: bound }));
});

readline.createInterface({ input: process.stdin }).on("line", (line) => {
  const { service, status } = JSON.parse(line);
  statuses?.set(service, status);
  console.log(JSON.stringify({ set: service }));
});
process.stdin.on("end", () => process.exit(0)); // the test ended: do not outlive it
