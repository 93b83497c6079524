// Replays a real editing trace (../shared/testdata/editing-traces, sequential
// format) into a Yjs document and writes the update of every transaction as a
// length-prefixed log: the update log a collab server stores for that document.
import { readFileSync, writeFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import * as Y from 'yjs';

export function buildLog(tracePath, outPath) {
  const trace = JSON.parse(gunzipSync(readFileSync(tracePath)).toString('utf8'));
  const doc = new Y.Doc();
  doc.clientID = 1;
  const text = doc.getText('text');
  const chunks = [];
  doc.on('update', (u) => {
    const len = Buffer.alloc(4);
    len.writeUInt32LE(u.length);
    chunks.push(len, Buffer.from(u));
  });
  if (trace.startContent) text.insert(0, trace.startContent);
  // State vectors of 100 clients at evenly spaced points of the history.
  const svs = [];
  const every = Math.max(1, Math.floor(trace.txns.length / 100));
  for (const [i, txn] of trace.txns.entries()) {
    if (i % every === 0 && svs.length < 100) svs.push(Y.encodeStateVector(doc));
    doc.transact(() => {
      for (const [pos, del, ins] of txn.patches) {
        // Positions are in code points; the traces used here are ASCII/BMP-only text.
        if (del > 0) text.delete(pos, del);
        if (ins) text.insert(pos, ins);
      }
    });
  }
  if (text.toString() !== trace.endContent) throw new Error('trace replay diverged');
  writeFileSync(outPath, Buffer.concat(chunks));
  const svChunks = [];
  for (const sv of svs) {
    const len = Buffer.alloc(4);
    len.writeUInt32LE(sv.length);
    svChunks.push(len, Buffer.from(sv));
  }
  writeFileSync(`${outPath}.svs`, Buffer.concat(svChunks));
  return { updates: chunks.length / 2, bytes: chunks.reduce((n, c) => n + c.length, 0) };
}
