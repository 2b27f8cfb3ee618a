// The provisioning exchange on the wire (README "Provisioning and rotation"), the
// embedded state (nonces, rate window, retirements) and the rate-limit flag.
import { expect } from 'chai'
import { appendFileSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  parseRequestBody, parseRequestTopic, parseResponseBody, issuedResponse, rejectedResponse, FileProvisionerState, parseRateLimit, STATE_FILE, LOCK_FILE,
} from '../../../src/provisioning/index.js'
import { parseDuration } from '../../../src/config/index.js'

const VIN = '1HGCM82633A004352'
const CSR = '-----BEGIN CERTIFICATE REQUEST-----\nMAA=\n-----END CERTIFICATE REQUEST-----\n'

describe('provisioning: messages and state', function () {
  it('parses request topics of both channels, VINs only', function () {
    expect(parseRequestTopic(`provisioning/${VIN}/request`)).to.deep.equal({ channel: 'provision', vin: VIN, responseTopic: `provisioning/${VIN}/response` })
    expect(parseRequestTopic(`vehicles/${VIN}/certificate/request`)).to.deep.equal({ channel: 'rotate', vin: VIN, responseTopic: `vehicles/${VIN}/certificate/response` })
    for (const t of ['provisioning/+/request', 'provisioning/abc/request', `provisioning/${VIN}/response`, `vehicles/${VIN}/telemetry/x`]) {
      expect(parseRequestTopic(t)).to.equal(null)
    }
  })

  it('malformed: too large, not JSON, no nonce (no answer) or a bad field (answered with the nonce)', function () {
    expect(parseRequestBody(Buffer.alloc(16 * 1024 + 1, 0x20))).to.deep.include({ ok: false, reason: 'malformed', nonce: null })
    expect(parseRequestBody(Buffer.from('{'))).to.deep.include({ ok: false, nonce: null })
    expect(parseRequestBody(Buffer.from('[]'))).to.deep.include({ ok: false, nonce: null })
    expect(parseRequestBody(Buffer.from(JSON.stringify({ v: 1, csr: CSR })))).to.deep.include({ ok: false, nonce: null })
    expect(parseRequestBody(Buffer.from(JSON.stringify({ v: 1, nonce: 'a b', csr: CSR })))).to.deep.include({ ok: false, nonce: null })
    expect(parseRequestBody(Buffer.from(JSON.stringify({ v: 2, nonce: 'n1', csr: CSR })))).to.deep.include({ ok: false, nonce: 'n1' })
    expect(parseRequestBody(Buffer.from(JSON.stringify({ v: 1, nonce: 'n1', csr: 5 })))).to.deep.include({ ok: false, nonce: 'n1' })
  })

  it('a csr field without a PEM block is a request with no CSR (bad_csr later)', function () {
    const r = parseRequestBody(Buffer.from(JSON.stringify({ v: 1, nonce: 'n1', csr: 'hello' })))
    expect(r).to.deep.equal({ ok: true, value: { nonce: 'n1', csrDer: null } })
    const ok = parseRequestBody(Buffer.from(JSON.stringify({ v: 1, nonce: 'n1', csr: CSR })))
    expect(ok.ok && ok.value.csrDer?.toString('hex')).to.equal('3000')
  })

  it('round-trips responses', function () {
    const issued = issuedResponse('n', 'C', 'K', new Date(0))
    expect(parseResponseBody(Buffer.from(JSON.stringify(issued)))).to.deep.equal(issued)
    const rej = rejectedResponse('n', 'rate_limited')
    expect(parseResponseBody(Buffer.from(JSON.stringify(rej)))).to.deep.equal(rej)
    expect(parseResponseBody(Buffer.from('{"v":1}'))).to.equal(null)
  })

  it('embedded state: claims, per-channel windows, nonces and retirements survive a restart', async function () {
    const dir = mkdtempSync(join(tmpdir(), 'fg-prov-state-'))
    let now = 1_000_000
    const s = new FileProvisionerState(dir, () => now)
    // one embedded provisioner per data dir
    expect(() => new FileProvisionerState(dir, () => now)).to.throw(/another provisioner \(pid \d+\)/)
    expect(await s.claim(VIN, 'a')).to.deep.equal({ kind: 'claimed' })
    expect(await s.claim(VIN, 'a')).to.deep.equal({ kind: 'busy' }) // a redelivery while the first is handled
    const resp = issuedResponse('a', 'C', 'K', new Date(0))
    await s.remember(VIN, 'a', resp)
    expect(await s.claim(VIN, 'a')).to.deep.equal({ kind: 'replay', response: resp })
    expect(await s.claim(VIN, 'b')).to.deep.equal({ kind: 'claimed' })
    await s.release(VIN, 'b') // refused: a retry is handled afresh
    expect(await s.claim(VIN, 'b')).to.deep.equal({ kind: 'claimed' })
    // the two channels count apart
    expect(await s.count('rotate', VIN, 1000)).to.equal(1)
    expect(await s.count('rotate', VIN, 1000)).to.equal(2)
    expect(await s.count('provision', VIN, 1000)).to.equal(1)
    now += 1000
    expect(await s.count('rotate', VIN, 1000)).to.equal(1)
    await s.scheduleRetirement([{ vin: VIN, fingerprint: 'f1' }], now + 50)
    await s.close()
    const again = new FileProvisionerState(dir, () => now)
    expect(await again.claim(VIN, 'a')).to.deep.equal({ kind: 'replay', response: resp })
    expect(await again.dueRetirements(now)).to.deep.equal([])
    expect(await again.dueRetirements(now + 50)).to.deep.equal([{ vin: VIN, fingerprint: 'f1' }])
    await again.cancelRetirement([{ vin: VIN, fingerprint: 'f1' }])
    expect(await again.dueRetirements(now + 50)).to.deep.equal([])
    await again.close()
    // a crash mid-append leaves a torn last line: the journal still loads; a lock left by a dead process is taken over
    appendFileSync(join(dir, STATE_FILE), '{"t":"nonce","vin":"' + VIN + '","non')
    writeFileSync(join(dir, LOCK_FILE), '2147483646\n')
    const third = new FileProvisionerState(dir, () => now)
    expect(await third.claim(VIN, 'a')).to.deep.equal({ kind: 'replay', response: resp })
    await third.close()
  })

  it('parses --rate-limit', function () {
    expect(parseRateLimit('10/h', parseDuration)).to.deep.equal({ count: 10, windowMs: 3_600_000 })
    expect(parseRateLimit('5/30m', parseDuration)).to.deep.equal({ count: 5, windowMs: 1_800_000 })
    for (const bad of ['10', '0/h', '10/x', '/h', '-1/h']) expect(parseRateLimit(bad, parseDuration)).to.equal(null)
  })
})
