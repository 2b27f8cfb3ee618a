// The ticket keyring without a socket: epochs, the one-rotation overlap, the
// trust bundle in every key, and the callback OpenSSL calls.
import { expect } from 'chai'
import { randomBytes } from 'node:crypto'
import { TicketKeyring, deriveTicketKey, bundleDigest } from '../../../src/resumption/index.js'
import { ticketKeyCallback } from '../../../src/tls/index.js'

const ROTATION = 60_000
const SEED = Buffer.alloc(32, 7)

function ring (now: { t: number }, ca = [Buffer.from('ca-1')]): TicketKeyring {
  return new TicketKeyring({ rotationMs: ROTATION, trust: { caDer: ca, keySeed: SEED }, now: () => now.t })
}

describe('resumption: the ticket keyring', () => {
  it('seals with the current epoch; accepts the previous one (renewing) and the next; forgets older ones', () => {
    const now = { t: 10 * ROTATION + 5 }
    const r = ring(now)
    for (const e of r.wanted()) r.add(e, randomBytes(32))
    const sealed = r.current()
    expect(r.find(sealed.name)).to.deep.equal({ key: sealed, renew: false })
    now.t += ROTATION // one rotation later: the old key opens and renews
    expect(r.find(sealed.name)?.renew).to.equal(true)
    expect(r.current().name.equals(sealed.name)).to.equal(false)
    now.t += ROTATION // two rotations later: gone
    expect(r.find(sealed.name)).to.equal(null)
    r.prune()
    expect(r.has(10)).to.equal(false)
  })

  it('a node whose clock runs ahead seals with the next key; this node still opens it', () => {
    const now = { t: 20 * ROTATION }
    const secrets = new Map([19, 20, 21, 22].map((e) => [e, randomBytes(32)]))
    const a = ring(now)
    const ahead = ring({ t: now.t + ROTATION })
    for (const e of a.wanted()) a.add(e, secrets.get(e)!)
    for (const e of ahead.wanted()) ahead.add(e, secrets.get(e)!)
    expect(a.find(ahead.current().name)).to.deep.include({ renew: false })
  })

  it('the same secret under another trust bundle or server key is another key (a reload that changes either ends every ticket; the store alone seals nothing)', () => {
    const secret = randomBytes(32)
    const k1 = deriveTicketKey(secret, SEED, bundleDigest([Buffer.from('ca-1')]))
    const k2 = deriveTicketKey(secret, SEED, bundleDigest([Buffer.from('ca-2')]))
    const k3 = deriveTicketKey(secret, Buffer.alloc(32, 8), bundleDigest([Buffer.from('ca-1')]))
    for (const other of [k2, k3]) expect(k1.name.equals(other.name) || k1.aes.equals(other.aes) || k1.hmac.equals(other.hmac)).to.equal(false)
    const now = { t: 5 * ROTATION }
    const r = ring(now)
    r.add(5, secret)
    const before = r.current()
    r.retrust({ caDer: [Buffer.from('ca-2')], keySeed: SEED })
    expect(r.find(before.name)).to.equal(null)
    expect(r.current().name.equals(k2.name)).to.equal(true)
  })

  it('before the current epoch\'s secret arrives, the newest key held seals', () => {
    const now = { t: 7 * ROTATION }
    const r = ring(now)
    r.add(6, randomBytes(32))
    expect(r.find(r.current().name)?.renew).to.equal(true)
    expect(() => ring({ t: 0 }).current()).to.throw(/no ticket key/)
  })

  it('the OpenSSL callback: seal with the current key, open a known name, an unknown name is a full handshake, never a throw', () => {
    const now = { t: 3 * ROTATION }
    const r = ring(now)
    for (const e of r.wanted()) r.add(e, randomBytes(32))
    const cb = ticketKeyCallback(r)
    const sealed = cb(Buffer.alloc(16), Buffer.alloc(16), true)
    expect(sealed[0]).to.equal(1)
    expect((sealed[3] as Buffer).equals(r.current().name)).to.equal(true)
    expect((sealed[4] as Buffer).length).to.equal(16)
    // every ticket its own random IV, across refills of the pool they are cut from
    const ivs = new Set<string>()
    for (let i = 0; i < 600; i++) ivs.add((cb(Buffer.alloc(16), Buffer.alloc(16), true)[4] as Buffer).toString('hex'))
    expect(ivs.size).to.equal(600)
    expect(ivs.has('00'.repeat(16))).to.equal(false)
    expect(cb(r.current().name, Buffer.alloc(16), false)[0]).to.equal(1)
    expect(cb(randomBytes(16), Buffer.alloc(16), false)[0]).to.equal(0)
    const broken = ticketKeyCallback({ current () { throw new Error('x') }, find () { throw new Error('y') } })
    expect(broken(Buffer.alloc(16), Buffer.alloc(16), true)[0]).to.equal(0)
    expect(broken(Buffer.alloc(16), Buffer.alloc(16), false)[0]).to.equal(0)
  })
})
