// The cluster's certificate authority and the API server's serving certificate,
// made once at first start and kept in the state directory (ECDSA P-256).

import { webcrypto } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
// @peculiar/x509 uses decorators that need the reflect-metadata polyfill loaded first.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as unknown as Crypto);
const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
const YEAR_MS = 365 * 24 * 3600 * 1000;

export interface Pki {
  caCert: string;
  caKey: string;
  serverCert: string;
  serverKey: string;
}

async function pemKey(key: CryptoKey): Promise<string> {
  const der = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', key));
  return `-----BEGIN PRIVATE KEY-----\n${der
    .toString('base64')
    .replace(/(.{64})/g, '$1\n')
    .replace(/\n$/, '')}\n-----END PRIVATE KEY-----\n`;
}

async function makePki(): Promise<Pki> {
  const notBefore = new Date(Date.now() - 3600_000);
  const caKeys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as CryptoKeyPair;
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01',
    name: 'CN=virtmesh-ca',
    notBefore,
    notAfter: new Date(Date.now() + 10 * YEAR_MS),
    signingAlgorithm: alg,
    keys: caKeys,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(caKeys.publicKey),
    ],
  });
  const serverKeys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as CryptoKeyPair;
  const server = await x509.X509CertificateGenerator.create({
    serialNumber: '02',
    subject: 'CN=virtmesh-apiserver',
    issuer: ca.subject,
    notBefore,
    notAfter: new Date(Date.now() + 2 * YEAR_MS),
    signingAlgorithm: alg,
    publicKey: serverKeys.publicKey,
    signingKey: caKeys.privateKey,
    extensions: [
      new x509.SubjectAlternativeNameExtension([
        { type: 'ip', value: '127.0.0.1' },
        { type: 'dns', value: 'localhost' },
        { type: 'dns', value: 'kubernetes.default.svc' },
      ]),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      await x509.AuthorityKeyIdentifierExtension.create(caKeys.publicKey),
    ],
  });
  return {
    caCert: ca.toString('pem'),
    caKey: await pemKey(caKeys.privateKey),
    serverCert: server.toString('pem'),
    serverKey: await pemKey(serverKeys.privateKey),
  };
}

const files = { caCert: 'ca.crt', caKey: 'ca.key', serverCert: 'apiserver.crt', serverKey: 'apiserver.key' } as const;

/** Loads the PKI from `dir`, making it on first use. */
export async function loadOrCreatePki(dir: string): Promise<Pki> {
  if (Object.values(files).every((f) => existsSync(join(dir, f)))) {
    return Object.fromEntries(Object.entries(files).map(([k, f]) => [k, readFileSync(join(dir, f), 'utf8')])) as unknown as Pki;
  }
  const pki = await makePki();
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  for (const [k, f] of Object.entries(files)) writeFileSync(join(dir, f), pki[k as keyof Pki], { mode: 0o600 });
  return pki;
}
