// Pebble 2.4 reuses a valid authorization about 1% of the time even with PEBBLE_AUTHZREUSE=0 (its
// test is `rand.Intn(100) > percent`), so a test that needs a renewal to prove control again first
// deactivates the account's valid authorizations for that name (RFC 8555 §7.5.2).
import { createPrivateKey } from 'node:crypto';
import { AcmeSession } from '../../src/acme/session.js';
import { accountSigner } from '../../src/acme/jws.js';
import { resolveServer } from '../../src/acme/servers.js';
import type { StateStore } from '../../src/store/store.js';

type Json = Record<string, unknown>;

export async function deactivateValidAuthorizations(
  store: StateStore,
  directoryUrl: string,
  caCertPem: string,
  domain: string,
): Promise<number> {
  const rec = await store.getAccount(resolveServer(directoryUrl).id);
  if (!rec) throw new Error(`no account stored for ${directoryUrl}`);
  const session = new AcmeSession({
    directoryUrl,
    signer: await accountSigner(createPrivateKey(rec.value.key)),
    accountUrl: rec.value.url,
    caCert: caCertPem,
  });
  const postAsGet = (url: string) => session.post(url, '', { action: 'fetch' });
  const account = (await postAsGet(rec.value.url)).json as Json;
  let deactivated = 0;
  // The account's orders list is paged with Link rel="next".
  for (let page: string | undefined = account.orders as string; page !== undefined;) {
    const res = await postAsGet(page);
    for (const orderUrl of (res.json as { orders: string[] }).orders) {
      const order = (await postAsGet(orderUrl)).json as { authorizations: string[] };
      for (const authzUrl of order.authorizations) {
        const authz = (await postAsGet(authzUrl)).json as { status: string; identifier: { value: string } };
        if (authz.status !== 'valid' || authz.identifier.value !== domain) continue;
        await session.post(authzUrl, { status: 'deactivated' }, { action: 'authorization deactivation' });
        deactivated++;
      }
    }
    page = res.links.find((l) => l.rels.includes('next'))?.url;
  }
  return deactivated;
}
