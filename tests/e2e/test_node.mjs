// A minimal Cloudillo node written with the `jose` npm library, for cross-implementation
// tests (PROTOCOL §1.4, §1.5, §2.1): it publishes one tenant's P-384 key on
// `GET /api/me`, signs action tokens with jose, and records what arrives at
// `POST /api/inbox`. It can hold requests unanswered (a node that hangs) and can be
// stopped and started again on the same port (a node that is down).
import http from 'node:http';
import { createHash } from 'node:crypto';
import { generateKeyPair, exportSPKI, CompactSign } from 'jose';

export class TestNode {
  constructor(idTag, port) {
    this.idTag = idTag;
    this.port = port;
    this.keyId = '261130';
    this.received = [];  // {token, related, actionId}
    this.hold = false;
    this.held = [];
  }

  async init() {
    const { publicKey, privateKey } = await generateKeyPair('ES384', { extractable: true });
    this.privateKey = privateKey;
    const pem = await exportSPKI(publicKey);
    this.publicKeyB64 = pem.replace(/-----[A-Z ]+-----/g, '').replace(/\s+/g, '');
    return this;
  }

  start() {
    this.server = http.createServer((req, res) => this.handle(req, res));
    return new Promise((resolve) => this.server.listen(this.port, '127.0.0.1', resolve));
  }

  stop() {
    for (const res of this.held.splice(0)) res.destroy();
    return new Promise((resolve) => {
      if (!this.server) return resolve();
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  handle(req, res) {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const send = (status, body) => {
        res.writeHead(status, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      if (req.headers.host !== `cl-o.${this.idTag}`) return send(404, { error: { code: 'E-CORE-NOTFOUND', message: 'host' } });
      if (req.method === 'GET' && req.url === '/api/me') {
        return send(200, { data: { idTag: this.idTag, name: 'Test node', type: 'person', keys: [{ keyId: this.keyId, publicKey: this.publicKeyB64 }] } });
      }
      if (req.method === 'POST' && req.url === '/api/inbox') {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        if (this.hold) {
          this.held.push(res);
          this.heldTokens = (this.heldTokens || 0) + 1;
          return undefined;
        }
        this.received.push({ ...body, actionId: actionIdOf(body.token) });
        return send(201, { data: null });
      }
      return send(404, { error: { code: 'E-CORE-NOTFOUND', message: 'not found' } });
    });
  }

  // An action token signed by jose, claims in the order PROTOCOL §2.1 gives.
  async sign(claims) {
    const payload = { iss: this.idTag, k: this.keyId, ...claims };
    return new CompactSign(new TextEncoder().encode(JSON.stringify(payload)))
      .setProtectedHeader({ typ: 'JWT', alg: 'ES384' })
      .sign(this.privateKey);
  }
}

export function actionIdOf(token) {
  return `a1~${createHash('sha256').update(token).digest('base64url')}`;
}
