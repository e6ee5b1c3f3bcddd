// eureka-js-client (the npm package, unchanged) as a real client of the agent's dev registry:
// registers as its README shows (no instanceId), heartbeats, fetches the registry (full, then deltas),
// reads itself back by id alone, then deregisters. Prints one JSON line per step for the test to read.
'use strict';
const http = require('http');
const { Eureka } = require('eureka-js-client');

const port = Number(process.argv[2]);
const say = (line) => process.stdout.write(JSON.stringify(line) + '\n');
const quiet = { debug() {}, info() {}, warn: (...a) => process.stderr.write(a.join(' ') + '\n'), error: (...a) => process.stderr.write(a.join(' ') + '\n') };

const client = new Eureka({
  logger: quiet,
  shouldUseDelta: true,
  instance: {
    app: 'jsservice',
    hostName: 'js-host',
    ipAddr: '127.0.0.1',
    statusPageUrl: 'http://js-host:3000/info',
    port: { '$': 3000, '@enabled': 'true' },
    vipAddress: 'jsservice',
    dataCenterInfo: { '@class': 'com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo', name: 'MyOwn' },
  },
  eureka: {
    host: '127.0.0.1',
    port,
    servicePath: '/eureka/apps/',
    maxRetries: 0,
    heartbeatInterval: 200,
    registryFetchInterval: 200,
  },
});

function byId(id) {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: `/eureka/instances/${encodeURIComponent(id)}`, headers: { Accept: 'application/json' } }, (res) => {
      let body = '';
      res.on('data', (chunk) => { body += chunk; });
      res.on('end', () => resolve({ status: res.statusCode, body: body ? JSON.parse(body) : null }));
    }).on('error', reject);
  });
}

let heartbeats = 0;
let updates = 0;
client.on('heartbeat', () => { heartbeats += 1; });
client.on('registryUpdated', () => { updates += 1; });

client.start(async (error) => {
  if (error) {
    say({ step: 'start', error: String(error) });
    process.exit(1);
  }

  say({ step: 'started' });
  while (heartbeats < 4 || updates < 1) { // deltas come on the same interval as heartbeats; only full fetches emit registryUpdated
    await new Promise((r) => setTimeout(r, 50));
  }

  const others = client.getInstancesByAppId('ORDERS').map((i) => ({ instanceId: i.instanceId, hostName: i.hostName, port: i.port.$, status: i.status }));
  const self = client.getInstancesByVipAddress('jsservice').map((i) => ({ instanceId: i.instanceId, hostName: i.hostName, status: i.status }));
  say({ step: 'registry', heartbeats, orders: others, self });

  const read = await byId('js-host');
  say({ step: 'byId', status: read.status, app: read.body && read.body.instance.app, hostName: read.body && read.body.instance.hostName });

  client.stop((stopError) => {
    say({ step: 'stopped', error: stopError ? String(stopError) : null });
    process.exit(stopError ? 1 : 0);
  });
});
