// The X.509 library, loaded in one place: @peculiar/x509 resolves its services through tsyringe,
// which needs the Reflect metadata polyfill loaded first, and it signs with node's WebCrypto.
// Only `tunmesh certs` and the lab load this file, never a running node (memory).
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { webcrypto } from 'node:crypto';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

export { x509 };
export const subtle = webcrypto.subtle;
