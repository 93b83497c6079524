// PROTOCOL D.14 through the gateway: /api/me/full shows each caller the profile
// sections its standing allows, also when the answer comes from the gateway's reply
// cache (asked twice, in an order that would leak the owner's answer to a guest).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { Cluster } from './cluster.mjs';

const c = new Cluster();
let alice, ownerToken;
before(async () => {
  await c.start();
  alice = c.createTenant('alice.sections.test');
  ownerToken = await c.login(alice);
  const r = await c.api(alice.idTag, 'PATCH', '/api/me', {
    token: ownerToken,
    body: { x: { sections: 'about,fol,con,sup,odd', about: 'a', fol: 'f', 'fol.vis': 'follower', con: 'c',
      'con.vis': 'connected', sup: 's', 'sup.vis': 'supporter', odd: 'o', 'odd.vis': 'F' } },
  });
  assert.equal(r.status, 200);
  execFileSync('psql', ['-q', c.env.CLOUDILLO_DATABASE_URL, '-c',
    `INSERT INTO identity.profiles (tn_id, id_tag, name, follower, connected) VALUES
       (${alice.tnId}, 'bob.sections.test', 'Bob', true, false),
       (${alice.tnId}, 'carol.sections.test', 'Carol', false, true)`]);
});
after(() => c.stop());

function visitor(sub, roles) {
  return c.mintToken(alice.tnId, { exp: Math.floor(Date.now() / 1000) + 600, iss: alice.idTag, sub, r: roles });
}

async function sections(token) {
  const r = await c.api(alice.idTag, 'GET', '/api/me/full', { token });
  assert.equal(r.status, 200, r.text);
  return r.json.data.x ? r.json.data.x.sections : undefined;
}

test('each standing sees its sections, first and second time alike', async () => {
  const callers = [
    ['owner', ownerToken, 'about,fol,con,sup,odd'],
    ['guest', undefined, 'about'],
    ['verified stranger', visitor('dave.sections.test', 'public'), 'about'],
    ['follower', visitor('bob.sections.test', 'public,follower'), 'about,fol'],
    ['connection', visitor('carol.sections.test', 'public'), 'about,fol,con'],
    ['supporter', visitor('erin.sections.test', 'public,follower,supporter'), 'about,fol,con,sup'],
  ];
  for (let round = 0; round < 2; round++) {
    for (const [who, token, expected] of callers) {
      assert.equal(await sections(token), expected, `${who}, round ${round + 1}`);
    }
  }
});

test('a hidden section leaves neither its entry nor its marker', async () => {
  const r = await c.api(alice.idTag, 'GET', '/api/me/full', { token: visitor('bob.sections.test', 'public') });
  assert.deepEqual(r.json.data.x, { about: 'a', fol: 'f', 'fol.vis': 'follower', sections: 'about,fol' });
});
