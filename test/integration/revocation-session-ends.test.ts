// A revocation event looks up the sessions it names in the session registry's
// index instead of scanning every live session. The index must follow every way
// a session ends (DISCONNECT, socket close, a refused publish, a takeover, a
// kick) and every session admitted later. The periodic re-check is off here
// (1 h), so only the event path can close a session.
import { expect } from 'chai'
import type { MqttClient } from 'mqtt'
import { randomVin } from '../../src/pki/index.js'
import { targetsOf, type RevocationTarget } from '../../src/revocation/index.js'
import { testPki, type TestPki } from '../harness/pki.js'
import { startTestBroker, type TestBroker } from '../harness/broker.js'
import { connect, credentials, closed, end } from '../harness/mqtt.js'

const ENTRY = { reason: 'keyCompromise', revokedAt: '2026-01-01T00:00:00Z' }

describe('revocation index follows every way a session ends', function () {
  this.timeout(40_000)
  let pki: TestPki
  let broker: TestBroker
  const clients: MqttClient[] = []

  before(async () => {
    pki = await testPki()
    broker = await startTestBroker(pki.dir, { revocationRecheck: '1h' })
  })
  after(async () => { await end(...clients); await broker?.close() })

  async function car (name: string, vin = randomVin()): Promise<{ vin: string; dir: string }> {
    return { vin, dir: await pki.extra(name, 'vehicle', vin) }
  }
  async function online (c: { vin: string; dir: string }): Promise<{ client: MqttClient; targets: RevocationTarget[] }> {
    const client = await connect(broker.port, credentials(pki.dir, c.dir), { clientId: c.vin })
    clients.push(client)
    const sessions = broker.fleetgate.sessions
    const held = sessions.live().filter((x) => x.id === c.vin && !x.closed).map((x) => sessions.get(x)!)
    expect(held, `one live session of ${c.vin}`).to.have.length(1)
    return { client, targets: targetsOf(held[0]!.identity) }
  }
  const leafTargets = (targets: readonly RevocationTarget[]) => targets.slice(0, 2) // fingerprint, issuer + serial
  const named = (targets: readonly RevocationTarget[]) => broker.fleetgate.sessions.candidatesFor(leafTargets(targets)).size
  async function until (what: string, ok: () => boolean, ms = 3000): Promise<void> {
    for (const deadline = Date.now() + ms; !ok();) {
      if (Date.now() > deadline) throw new Error(`timed out: ${what}`)
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
  }
  const kicksOf = (fp: string) => broker.audit.find('revocation.kick').filter((l) => (l.cert as { fp?: string }).fp === fp)
  const fpOf = (targets: readonly RevocationTarget[]) => (targets[0] as { fingerprint: string }).fingerprint

  it('drops an ended session from the index whatever ended it; revoking its certificate then leaves everyone else alone', async () => {
    const ended: Array<{ how: string; targets: RevocationTarget[] }> = []

    const disconnecting = await online(await car('ends-disconnect'))
    await disconnecting.client.endAsync() // DISCONNECT
    ended.push({ how: 'DISCONNECT', targets: disconnecting.targets })

    const dropping = await online(await car('ends-socket'))
    ;(dropping.client as unknown as { stream: { destroy (): void } }).stream.destroy()
    ended.push({ how: 'socket close', targets: dropping.targets })

    const misbehaving = await online(await car('ends-refused'))
    misbehaving.client.publish(`vehicles/${randomVin()}/status`, 'x', { qos: 0 }) // another car's topic: the broker closes it
    await closed(misbehaving.client)
    ended.push({ how: 'refused publish', targets: misbehaving.targets })

    // takeover: the same car (same VIN, same clientId) back with a rotated certificate
    const vin = randomVin()
    const before = await online(await car('ends-takeover-old', vin))
    const after = await online(await car('ends-takeover-new', vin))
    await closed(before.client)
    ended.push({ how: 'takeover', targets: before.targets })

    const kicked = await online(await car('ends-kick'))
    await broker.fleetgate.revocations.revoke([kicked.targets[0]!], ENTRY)
    await closed(kicked.client, 1000)
    expect(kicksOf(fpOf(kicked.targets))).to.have.length(1)
    ended.push({ how: 'kick', targets: kicked.targets })

    for (const e of ended) await until(`${e.how}: out of the index`, () => named(e.targets) === 0)

    // every ended certificate revoked, by fingerprint and by issuer + serial: nothing to end, nothing thrown
    const kicksBefore = broker.audit.find('revocation.kick').length
    await broker.fleetgate.revocations.revoke(ended.flatMap((e) => leafTargets(e.targets)), ENTRY)
    // a canary revoked after them: events arrive in order, so once it is closed those were handled
    const canary = await online(await car('ends-canary'))
    await broker.fleetgate.revocations.revoke([canary.targets[0]!], ENTRY)
    await closed(canary.client, 1000)
    expect(broker.audit.find('revocation.kick').length).to.equal(kicksBefore + 1)
    // the new certificate of the car that took over is untouched
    expect(after.client.connected).to.equal(true)
    expect(kicksOf(fpOf(after.targets))).to.deep.equal([])
    expect(named(after.targets)).to.equal(1)
  })

  it('finds a session admitted after a revocation batch, by its certificate and by its issuing CA', async () => {
    const early = await online(await car('ends-early'))
    await broker.fleetgate.revocations.revoke([early.targets[0]!], ENTRY)
    await closed(early.client, 1000)

    // admitted after that batch: its certificate by issuer + serial
    const late = await online(await car('ends-late'))
    await broker.fleetgate.revocations.revoke([late.targets[1]!], ENTRY)
    await closed(late.client, 1000)
    expect(kicksOf(fpOf(late.targets))).to.have.length(1)

    // the issuing CA revoked by its root (issuer + serial): every live session under it ends,
    // and an ended session of that CA leaves nothing behind
    const live = await Promise.all(['ends-ca-1', 'ends-ca-2'].map(async (n) => await online(await car(n))))
    const caByRoot = live[0]!.targets.find((t) => 'issuer' in t && t.issuer !== (live[0]!.targets[1] as { issuer: string }).issuer)!
    await broker.fleetgate.revocations.revoke([caByRoot], ENTRY)
    await Promise.all(live.map((s) => closed(s.client, 1000)))
    for (const s of live) expect(kicksOf(fpOf(s.targets))).to.have.length(1)
    await until('every session of the revoked CA out of the index', () => broker.fleetgate.sessions.candidatesFor([caByRoot]).size === 0)
  })
})
