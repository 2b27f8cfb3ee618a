// The one place @peculiar/x509 is loaded. It needs the Reflect metadata
// polyfill before it is evaluated (ARCHITECTURE.md "Known pitfalls of the libraries"), and node's webcrypto as
// its provider. Only the dev/test PKI uses it: it is not for hot paths.
import 'reflect-metadata'
import { webcrypto } from 'node:crypto'
import * as x509 from '@peculiar/x509'

x509.cryptoProvider.set(webcrypto as unknown as Crypto)

export { x509 }
