// The session registry finds every live session of a certificate (a revocation
// ends them all). One session per certificate is held without a Set.
import { expect } from 'chai'
import type { Client } from 'aedes'
import { SessionRegistry, type Session } from '../../../src/broker/session.js'
import type { CaInfo, Identity } from '../../../src/identity/index.js'
import type { RevocationTarget } from '../../../src/revocation/types.js'
import { targetsOf } from '../../../src/revocation/query.js'
import { targetKey } from '../../../src/revocation/schema.js'

const client = (id: string) => ({ id }) as unknown as Client
const session = (fingerprint: string) => ({ identity: { fingerprint, serial: '1', issuerFingerprint: null, chain: [] } }) as unknown as Session

describe('session registry', () => {
  it('finds one, two, then one and no sessions of a certificate as they come and go', () => {
    const r = new SessionRegistry()
    const a = client('svc-a'); const b = client('svc-b'); const c = client('car')
    r.set(a, session('fp1'))
    r.set(c, session('fp2'))
    expect(r.byFingerprint('fp1')).to.deep.equal([a])
    r.set(b, session('fp1'))
    expect(r.byFingerprint('fp1')).to.have.members([a, b]).and.have.length(2)
    r.set(b, session('fp1')) // the same client again: still two
    expect(r.byFingerprint('fp1')).to.have.length(2)
    r.delete(a)
    expect(r.byFingerprint('fp1')).to.deep.equal([b])
    r.set(a, session('fp1'))
    expect(r.byFingerprint('fp1')).to.have.members([a, b])
    r.delete(a); r.delete(b)
    expect(r.byFingerprint('fp1')).to.deep.equal([])
    expect(r.byFingerprint('fp2')).to.deep.equal([c])
    expect(r.size).to.equal(1)
    r.delete(c)
    expect(r.byFingerprint('fp2')).to.deep.equal([])
    expect(r.live()).to.deep.equal([])
    r.delete(c) // twice: harmless
    expect(r.size).to.equal(0)
  })
})

// The revocation index: a revocation event asks the registry which sessions it can
// end instead of scanning every live session. What it names must include every
// session the full scan would end (targetsOf: leaf and every CA, by fingerprint
// and by issuer + serial), and nothing of a session that has ended.
describe('session registry: revocation index', () => {
  const hex = (c: string) => c.repeat(64)
  const ca = (fingerprint: string, serial: string, issuerFingerprint: string | null): CaInfo => ({ fingerprint, serial, issuerFingerprint, subject: {} })
  const root = ca(hex('a'), '1', null)
  const root2 = ca(hex('b'), '1', null)
  const issuing = ca(hex('c'), '10', root.fingerprint)
  const other = ca(hex('d'), '11', root.fingerprint)
  // the same issuing CA certificate chained to another root (a renewed root): another CA path
  const issuingUnderRoot2 = ca(issuing.fingerprint, '10', root2.fingerprint)
  const chains = {
    issuing: Object.freeze([issuing, root]),
    other: Object.freeze([other, root]),
    issuingUnderRoot2: Object.freeze([issuingUnderRoot2, root2]),
    none: Object.freeze([] as CaInfo[]),
  }
  let n = 0
  function identity (chain: readonly CaInfo[], serial = (++n).toString(16)): Identity {
    return { fingerprint: hex('e').slice(0, 56) + n.toString(16).padStart(8, '0'), serial, issuerFingerprint: chain[0]?.fingerprint ?? null, chain } as unknown as Identity
  }
  const sessionOf = (identity: Identity) => ({ identity }) as unknown as Session

  /** what the guard did before the index: every live session whose own keys meet the targets */
  function scan (r: SessionRegistry, targets: readonly RevocationTarget[]): Client[] {
    const keys = new Set(targets.map(targetKey))
    return r.live().filter((c) => targetsOf(r.get(c)!.identity).some((t) => keys.has(targetKey(t))))
  }
  /** every target any of these identities is checked against, and some no one is */
  function universe (ids: readonly Identity[]): RevocationTarget[] {
    const all = new Map<string, RevocationTarget>()
    for (const id of ids) for (const t of targetsOf(id)) all.set(targetKey(t), t)
    for (const t of [{ fingerprint: hex('f') }, { issuer: issuing.fingerprint, serial: 'ffff' }, { issuer: root.fingerprint, serial: '99' }]) all.set(targetKey(t), t)
    return [...all.values()]
  }
  function expectCovers (r: SessionRegistry, targets: readonly RevocationTarget[], exact: boolean): void {
    for (const t of targets) {
      const named = [...r.candidatesFor([t])]
      const hit = scan(r, [t])
      expect(named, `target ${targetKey(t)}`).to.include.members(hit)
      if (exact) expect(named, `target ${targetKey(t)}`).to.have.members(hit)
      for (const c of named) expect(r.live(), 'only live sessions').to.include(c)
    }
    // a batch names the union
    expect([...r.candidatesFor(targets)]).to.include.members(scan(r, targets))
  }

  it('names every session a revocation of its leaf, issuing CA or root ends, as sessions come and go', () => {
    const r = new SessionRegistry()
    const ids = [identity(chains.issuing), identity(chains.issuing), identity(chains.other), identity(chains.none)]
    const twice = ids[0]!
    const clients = ids.map((id, i) => { const c = client(`c${i}`); r.set(c, sessionOf(id)); return c })
    const again = client('c0-again') // a second session of the first certificate
    r.set(again, sessionOf(twice))
    const targets = universe(ids)
    expectCovers(r, targets, true)
    // the issuing CA revoked by the root (issuer + serial), and the root itself: everything under them
    expect([...r.candidatesFor([{ issuer: root.fingerprint, serial: issuing.serial }])]).to.have.members([clients[0], clients[1], again])
    expect([...r.candidatesFor([{ fingerprint: root.fingerprint }])]).to.have.members([clients[0], clients[1], clients[2], again])
    expect([...r.candidatesFor([{ fingerprint: issuing.fingerprint }])]).to.have.members([clients[0], clients[1], again])
    expect([...r.candidatesFor([{ issuer: issuing.fingerprint, serial: twice.serial }])]).to.have.members([clients[0], again])

    r.delete(clients[0]!)
    expectCovers(r, targets, true)
    expect([...r.candidatesFor([{ fingerprint: twice.fingerprint }])]).to.deep.equal([again])
    r.delete(clients[1]!)
    r.delete(clients[1]!) // twice: harmless
    expectCovers(r, targets, true)
    expect([...r.candidatesFor([{ fingerprint: issuing.fingerprint }])]).to.deep.equal([again])

    // a session admitted after those lookups is named by later ones
    const late = identity(chains.issuing)
    const lateClient = client('late')
    r.set(lateClient, sessionOf(late))
    expect([...r.candidatesFor([{ issuer: issuing.fingerprint, serial: late.serial }])]).to.deep.equal([lateClient])
    expect([...r.candidatesFor([{ fingerprint: root.fingerprint }])]).to.have.members([again, clients[2], lateClient])
    expectCovers(r, universe([...ids, late]), true)

    for (const c of [again, clients[2]!, clients[3]!, lateClient]) r.delete(c)
    expect(r.size).to.equal(0)
    for (const t of universe([...ids, late])) expect([...r.candidatesFor([t])], targetKey(t)).to.deep.equal([])
  })

  it('forgets the CAs of an ended session: a later session of the same issuing CA on another path is not named by the old root', () => {
    const r = new SessionRegistry()
    const before = client('before')
    r.set(before, sessionOf(identity(chains.issuing)))
    r.delete(before)
    const after = client('after')
    const id = identity(chains.issuingUnderRoot2)
    r.set(after, sessionOf(id))
    expect([...r.candidatesFor([{ fingerprint: root.fingerprint }])]).to.deep.equal([])
    expect([...r.candidatesFor([{ issuer: root.fingerprint, serial: issuing.serial }])]).to.deep.equal([])
    expect([...r.candidatesFor([{ fingerprint: root2.fingerprint }])]).to.deep.equal([after])
    expectCovers(r, universe([id]), true)
  })

  it('with one issuing CA on two paths, names a superset: the sessions under either', () => {
    const r = new SessionRegistry()
    const ids = [identity(chains.issuing), identity(chains.issuingUnderRoot2), identity(chains.other)]
    ids.forEach((id, i) => r.set(client(`p${i}`), sessionOf(id)))
    expectCovers(r, universe(ids), false)
  })

  it('a client set again with another certificate is indexed under the new one only', () => {
    const r = new SessionRegistry()
    const c = client('rotated')
    const old = identity(chains.issuing)
    const now = identity(chains.other)
    r.set(c, sessionOf(old))
    r.set(c, sessionOf(now))
    expect([...r.candidatesFor([{ fingerprint: old.fingerprint }])]).to.deep.equal([])
    expect([...r.candidatesFor([{ issuer: issuing.fingerprint, serial: old.serial }])]).to.deep.equal([])
    expect([...r.candidatesFor([{ fingerprint: issuing.fingerprint }])]).to.deep.equal([])
    expect([...r.candidatesFor([{ fingerprint: other.fingerprint }])]).to.deep.equal([c])
    r.delete(c)
    for (const t of universe([old, now])) expect([...r.candidatesFor([t])], targetKey(t)).to.deep.equal([])
  })
})
