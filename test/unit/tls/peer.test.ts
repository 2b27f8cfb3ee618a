// peerLeafDer reads the leaf from the encoded TLS session (src/tls/peer.ts): the
// same certificate as Node's getPeerCertificate, on a full handshake and on a
// resumed one, TLS 1.3 and 1.2; a buffer of any other shape gives null.
import { expect } from 'chai'
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { connect, createServer, type TLSSocket } from 'node:tls'
import type { AddressInfo } from 'node:net'
import { loadTlsMaterial, tlsServerOptions } from '../../../src/tls/index.js'
import { peerLeafDer, sessionPeerDer } from '../../../src/tls/peer.js'
import { testPki } from '../../harness/pki.js'

describe('tls peer leaf', () => {
  for (const maxVersion of ['TLSv1.3', 'TLSv1.2'] as const) {
    it(`${maxVersion}: the session's leaf is the peer certificate, full and resumed`, async () => {
      const pki = await testPki()
      const material = loadTlsMaterial({ ca: join(pki.dir, 'root-ca.pem'), cert: join(pki.dir, 'broker', 'cert.pem'), key: join(pki.dir, 'broker', 'key.pem') })
      const seen: Array<{ ours: Buffer | null; node: Buffer; resumed: boolean }> = []
      const server = createServer({
        ...tlsServerOptions(material, { handshakeTimeoutMs: 5000, resumption: { lifetimeSeconds: 60, sessionIdContext: 'peer-test', ticketKeys: randomBytes(48) } }), maxVersion,
      }, (s: TLSSocket) => {
        seen.push({ ours: peerLeafDer(s), node: s.getPeerCertificate(false).raw, resumed: s.isSessionReused() })
        s.end('x')
      })
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
      try {
        const port = (server.address() as AddressInfo).port
        const dir = pki.vehicle(0)
        const creds = { ca: readFileSync(join(pki.dir, 'root-ca.pem')), cert: readFileSync(join(dir, 'cert.pem')), key: readFileSync(join(dir, 'key.pem')) }
        let session: Buffer | undefined
        for (let i = 0; i < 3; i++) {
          await new Promise<void>((resolve, reject) => {
            const c = connect({ host: '127.0.0.1', port, servername: 'localhost', ...creds, maxVersion, ...(session ? { session } : {}) })
            c.on('session', (s: Buffer) => { session = s })
            c.on('data', () => {})
            c.once('close', () => resolve())
            c.once('error', reject)
          })
        }
        expect(seen).to.have.length(3)
        for (const s of seen) expect(s.ours?.equals(s.node), 'same DER as getPeerCertificate').to.equal(true)
        expect(seen.some((s) => s.resumed), 'a resumed connection was checked').to.equal(true)
      } finally {
        server.close()
      }
    })
  }

  it('a buffer that is not an encoded session with a peer gives null', () => {
    expect(sessionPeerDer(Buffer.alloc(0))).to.equal(null)
    expect(sessionPeerDer(Buffer.from([0x30, 0x03, 0x02, 0x01, 0x01]))).to.equal(null) // no [3]
    expect(sessionPeerDer(Buffer.from([0x30, 0x80, 0x00, 0x00]))).to.equal(null) // indefinite length
    expect(sessionPeerDer(Buffer.from([0x30, 0x05, 0xa3, 0x03, 0x02, 0x01, 0x01]))).to.equal(null) // [3] holding no certificate
    expect(sessionPeerDer(Buffer.from([0x30, 0x06, 0xa3, 0x04, 0x30, 0x02, 0x05, 0x00]))!.toString('hex')).to.equal('30020500')
  })
})
