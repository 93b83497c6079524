// Random multi-client Yjs edit histories from a seed: text (with formatting, embeds,
// emoji), arrays, maps, nested types, XML, binary, deletions, and partial syncs
// between clients. Every update each client emits is recorded, in order.
import * as Y from 'yjs';

export function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS = ['a', 'hello', 'é', 'ß', '世界', '😀', 'x😀y', '\n', ' ', 'Ω', 'long text '.repeat(5), '🏳️‍🌈'];

export function generateHistory(seed) {
  const r = rng(seed);
  const int = (n) => Math.floor(r() * n);
  const pick = (arr) => arr[int(arr.length)];
  const nClients = 2 + int(3);
  const docs = [];
  const log = [];
  for (let i = 0; i < nClients; i++) {
    const d = new Y.Doc();
    // Client ids at both ends of the range as well as in between.
    d.clientID = [1 + i, 0xffffffff - i, 1 + int(0x7fffffff), 2 ** 31 + i][int(4)];
    d.on('update', (u) => log.push(u));
    docs.push(d);
  }
  const value = (depth = 0) => {
    switch (int(depth > 1 ? 7 : 10)) {
      case 0: return int(1000) - 500;
      case 1: return r() * 1e6;
      case 2: return pick(WORDS);
      case 3: return r() < 0.5;
      case 4: return null;
      case 5: return { k: pick(WORDS), n: int(100), nested: [1, 'two', { three: 3 }] };
      case 6: return new Uint8Array([int(256), int(256), 0, 255]);
      case 7: { const m = new Y.Map(); m.set('inner', pick(WORDS)); return m; }
      case 8: { const a = new Y.Array(); a.insert(0, [1, 2, pick(WORDS)]); return a; }
      default: { const t = new Y.Text(); t.insert(0, pick(WORDS)); return t; }
    }
  };
  const ops = 10 + int(50);
  for (let o = 0; o < ops; o++) {
    const d = pick(docs);
    const text = d.getText('text');
    const arr = d.getArray('arr');
    const map = d.getMap('map');
    const xml = d.getXmlFragment('xml');
    switch (int(12)) {
      case 0: case 1: text.insert(int(text.length + 1), pick(WORDS)); break;
      case 2: if (text.length > 0) { const p = int(text.length); text.delete(p, 1 + int(Math.min(5, text.length - p))); } break;
      case 3: if (text.length > 0) { const p = int(text.length); text.format(p, 1 + int(text.length - p), pick([{ bold: true }, { italic: null }, { color: '#f00' }])); } break;
      case 4: text.insertEmbed(int(text.length + 1), { image: pick(WORDS) }); break;
      case 5: arr.insert(int(arr.length + 1), Array.from({ length: 1 + int(3) }, () => value())); break;
      case 6: if (arr.length > 0) { const p = int(arr.length); arr.delete(p, 1 + int(Math.min(3, arr.length - p))); } break;
      case 7: map.set(pick(['a', 'b', 'c', 'd', 'é']), value()); break;
      case 8: map.delete(pick(['a', 'b', 'c', 'd', 'é'])); break;
      case 9: {
        const el = new Y.XmlElement(pick(['p', 'h1', 'li']));
        el.setAttribute('class', pick(WORDS));
        el.insert(0, [new Y.XmlText(pick(WORDS))]);
        xml.insert(int(xml.length + 1), [el]);
        break;
      }
      case 10: {  // edit a nested type if one exists
        d.transact(() => {
          for (const v of arr.toArray()) {
            if (v instanceof Y.Text) { v.insert(0, pick(WORDS)); break; }
            if (v instanceof Y.Map) { v.set('x', value(2)); break; }
          }
        });
        break;
      }
      default: {  // sync one client from another
        const from = pick(docs), to = pick(docs);
        if (from !== to) Y.applyUpdate(to, Y.encodeStateAsUpdate(from, Y.encodeStateVector(to)));
      }
    }
  }
  return { docs, log, r };
}
