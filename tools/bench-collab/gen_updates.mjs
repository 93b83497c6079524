// Pre-generates the Yjs updates the collab load generator (tools/bench-cli/collab_bench.cc)
// sends, so that the native generator never has to encode Yjs itself and every update is
// one the server really applies.
//
// Client c has the Yjs clientID base+c and appends `len` ASCII characters to the shared
// text "t" per update, always after its own previous insert: each update is one item
// whose (clientID, clock) pair names it, so a receiver finds the sender (clientID - base)
// and the sequence number (clock / len) in the update's first varints, whatever framing
// or re-encoding the server applies. The base is random, so a run never collides with
// the items of a document an earlier run persisted.
//
// Output (little-endian): "CBU1", u32 clients, u32 updates per client, u32 base, u32 len,
// then per client and update: u32 size, update bytes (Yjs update v1).
//   node gen_updates.mjs <out> <clients> <updatesPerClient> [len]
import { randomInt } from 'node:crypto';
import { openSync, writeSync, closeSync } from 'node:fs';
import * as Y from 'yjs';

const [out, clientsArg, perClientArg, lenArg] = process.argv.slice(2);
const clients = Number(clientsArg);
const perClient = Number(perClientArg);
const len = Number(lenArg || 16);
if (!out || !(clients > 0) || !(perClient > 0) || !(len > 0)) {
  console.error('usage: node gen_updates.mjs <out> <clients> <updatesPerClient> [len]');
  process.exit(2);
}
const base = randomInt(1, 2 ** 30);
const fd = openSync(out, 'w');
const header = Buffer.alloc(20);
header.write('CBU1', 0, 'latin1');
header.writeUInt32LE(clients, 4);
header.writeUInt32LE(perClient, 8);
header.writeUInt32LE(base, 12);
header.writeUInt32LE(len, 16);
writeSync(fd, header);
const alphabet = 'abcdefghijklmnopqrstuvwxyz';
for (let c = 0; c < clients; c++) {
  const doc = new Y.Doc({ gc: false });
  doc.clientID = base + c;
  const text = doc.getText('t');
  const chunks = [];
  let size = 0;
  doc.on('update', (u) => {
    const prefix = Buffer.alloc(4);
    prefix.writeUInt32LE(u.length, 0);
    chunks.push(prefix, u);
    size += 4 + u.length;
  });
  for (let k = 0; k < perClient; k++) {
    const ch = alphabet[(c + k) % alphabet.length];
    text.insert(text.length, ch.repeat(len));
  }
  if (chunks.length !== 2 * perClient) throw new Error('one update per insert expected');
  writeSync(fd, Buffer.concat(chunks, size));
  doc.destroy();
}
closeSync(fd);
