// Hocuspocus 3.4.4 with no extensions (documents live in memory only), on a loopback
// port, for `tools/bench collab`. Prints "listening <port>" once it accepts connections.
//   node server.mjs <port>
import { Server } from '@hocuspocus/server';

const port = Number(process.argv[2] || 0);
const server = new Server({ port, address: '127.0.0.1', quiet: true, stopOnSignals: true });
await server.listen();
console.log(`listening ${server.address.port}`);
