import { existsSync } from 'node:fs'
import { isAbsolute } from 'node:path'
import { expect } from 'chai'
import { defaultPolicyPath, loadPolicyFile, type Policy } from '../../../src/policy/index.js'
import { cert, grantOf, identity, ISSUING, MANUFACTURING, OTHER_VIN, refusal, VIN } from './fixtures.js'

describe('policy: the shipped default policy', () => {
  let policy: Policy
  before(() => { policy = loadPolicyFile(defaultPolicyPath) })

  it('ships at an absolute path that exists, and loads', () => {
    expect(isAbsolute(defaultPolicyPath)).to.equal(true)
    expect(existsSync(defaultPolicyPath)).to.equal(true)
    expect(policy.roles).to.deep.equal(['vehicle', 'fleet-backend', 'fleet-monitor', 'factory', 'provisioner', 'phone', 'quarantine', 'repair-service'])
  })

  describe('roles', () => {
    it('vehicle: its own topics, clientId = VIN', () => {
      const g = grantOf(policy.resolve(cert(VIN, 'vehicle'), VIN))
      expect(g.role).to.equal('vehicle')
      expect(g.publishRules).to.deep.equal([
        `vehicles/${VIN}/telemetry/+`, `vehicles/${VIN}/status`,
        `vehicles/${VIN}/command-results`, `vehicles/${VIN}/keys`, `vehicles/${VIN}/certificate/request`,
      ])
      expect(g.subscribeRules).to.deep.equal([`vehicles/${VIN}/commands`, `vehicles/${VIN}/certificate/response`])
    })

    it('quarantine: never picked by its match; a vehicle judged under it gets its status and repair topics only', () => {
      expect(grantOf(policy.resolve(cert(VIN, 'vehicle'), VIN)).role).to.equal('vehicle')
      const g = grantOf(policy.resolve(cert(VIN, 'vehicle'), VIN, 'quarantine'))
      expect(g.role).to.equal('quarantine')
      expect(g.canPublish(`vehicles/${VIN}/status`)).to.equal(true)
      expect(g.canPublish(`vehicles/${VIN}/telemetry/speed`)).to.equal(false)
      expect(g.canPublish(`vehicles/${OTHER_VIN}/status`)).to.equal(false)
      expect(g.canSubscribe(`vehicles/${VIN}/repair/commands`)).to.equal(true)
      expect(g.canSubscribe(`vehicles/${VIN}/commands`)).to.equal(false)
      // a certificate its match does not hold (a backend) gets no quarantine role: refused
      expect(policy.resolve(cert('backend-1', 'fleet-backend'), 'backend-1', 'quarantine')).to.deep.include({ ok: false, reason: 'no_role' })
      expect(grantOf(policy.resolve(cert('repair-1', 'repair-service'), 'repair-1')).canPublish(`vehicles/${VIN}/repair/commands`)).to.equal(true)
    })

    it('fleet-backend, fleet-monitor and provisioner, clientId = CN plus any suffix', () => {
      expect(grantOf(policy.resolve(cert('backend-1', 'fleet-backend'), 'backend-1')).role).to.equal('fleet-backend')
      expect(grantOf(policy.resolve(cert('monitor', 'fleet-monitor'), 'monitor-3')).role).to.equal('fleet-monitor')
      expect(grantOf(policy.resolve(cert('provisioner', 'provisioner'), 'provisioner-a')).role).to.equal('provisioner')
    })

    it('phone: any car\'s command topic and results, nothing else (its authority is each car\'s key list)', () => {
      const g = grantOf(policy.resolve(cert('phone-anna', 'phone'), 'phone-anna'))
      expect(g.role).to.equal('phone')
      expect(g.canPublish(`vehicles/${VIN}/commands`)).to.equal(true)
      expect(g.canPublish(`vehicles/${VIN}/keys`)).to.equal(false)
      expect(g.canPublish(`vehicles/${VIN}/command-results`)).to.equal(false)
      expect(g.canSubscribe(`vehicles/${VIN}/command-results`)).to.equal(true)
      expect(g.canSubscribe(`vehicles/${VIN}/telemetry/+`)).to.equal(false)
      expect(g.canSubscribe(`vehicles/${VIN}/keys`)).to.equal(false)
    })

    it('factory: birth certificate from the manufacturing CA, provisioning topics only', () => {
      const g = grantOf(policy.resolve(cert(VIN, 'factory', MANUFACTURING), VIN))
      expect(g.role).to.equal('factory')
      expect(g.canPublish(`provisioning/${VIN}/request`)).to.equal(true)
      expect(g.canPublish(`vehicles/${VIN}/status`)).to.equal(false)
      expect(g.canSubscribe(`provisioning/${VIN}/response`)).to.equal(true)
      expect(g.canSubscribe(`provisioning/${OTHER_VIN}/response`)).to.equal(false)
    })
  })

  describe('role matching', () => {
    it('a certificate from the wrong CA matches no role', () => {
      expect(refusal(policy.resolve(cert(VIN, 'vehicle', 'Rogue CA'), VIN))).to.equal('no_role')
      expect(refusal(policy.resolve(cert(VIN, 'vehicle', MANUFACTURING), VIN))).to.equal('no_role')
      // a birth certificate look-alike from the issuing CA is not a factory cert either
      expect(refusal(policy.resolve(cert(VIN, 'factory', ISSUING), VIN))).to.equal('no_role')
    })

    it('a certificate with two OUs matches no role', () => {
      const two = identity({ subject: { CN: [VIN], OU: ['vehicle', 'fleet-backend'] } })
      expect(refusal(policy.resolve(two, VIN))).to.equal('no_role')
      const twoOtherOrder = identity({ subject: { CN: ['backend'], OU: ['fleet-backend', 'vehicle'] } })
      expect(refusal(policy.resolve(twoOtherOrder, 'backend'))).to.equal('no_role')
    })

    it('an unknown OU matches no role', () => {
      const d = policy.resolve(cert('x', 'admin'), 'x')
      expect(d).to.deep.equal({ ok: false, reason: 'no_role' })
    })
  })

  describe('vehicle checks', () => {
    it('refuses a vehicle whose CN is not a VIN (bad_vin)', () => {
      for (const cn of ['WVWZZZ1JZXW00000', 'WVWZZZ1JZXW0000011', 'WVWZZZ1JZXW00000I', 'WVWZZZ1JZXW00000O', 'WVWZZZ1JZXW00000Q', 'wvwzzz1jzxw000001']) {
        const d = policy.resolve(cert(cn, 'vehicle'), cn)
        expect(d, cn).to.include({ ok: false, reason: 'bad_vin', role: 'vehicle' })
      }
    })

    it('refuses a vehicle with two CNs (bad_vin)', () => {
      const id = identity({ subject: { CN: [VIN, OTHER_VIN], OU: ['vehicle'] } })
      expect(refusal(policy.resolve(id, VIN))).to.equal('bad_vin')
    })

    it('refuses a wildcard or separator in the CN (identity_injection)', () => {
      for (const cn of ['+', '#', 'WVWZZZ1JZXW00000/', 'A\u0000B', 'A\nB']) {
        expect(refusal(policy.resolve(cert(cn, 'vehicle'), cn)), JSON.stringify(cn)).to.equal('identity_injection')
      }
    })

    it('refuses injection in a role without cnFormat (backend CN "+")', () => {
      // without the injection check this would be granted (clientId "+-1" starts with "+")
      expect(refusal(policy.resolve(cert('+', 'fleet-backend'), '+-1'))).to.equal('identity_injection')
    })

    it('requires the exact clientId for a vehicle', () => {
      expect(refusal(policy.resolve(cert(VIN, 'vehicle'), OTHER_VIN))).to.equal('client_id_mismatch')
      expect(refusal(policy.resolve(cert(VIN, 'vehicle'), `${VIN}-2`))).to.equal('client_id_mismatch')
      expect(refusal(policy.resolve(cert(VIN, 'vehicle'), ''))).to.equal('client_id_mismatch')
    })

    it('lets a backend use CN plus any suffix but not a vehicle\'s clientId', () => {
      const backend = cert('backend', 'fleet-backend')
      expect(grantOf(policy.resolve(backend, 'backend')).role).to.equal('fleet-backend')
      expect(grantOf(policy.resolve(backend, 'backend-7f3a')).role).to.equal('fleet-backend')
      expect(refusal(policy.resolve(backend, VIN))).to.equal('client_id_mismatch')
      expect(refusal(policy.resolve(backend, 'backen'))).to.equal('client_id_mismatch')
      expect(refusal(policy.resolve(backend, 'x-backend'))).to.equal('client_id_mismatch')
    })

    it('an empty CN never makes the "*" template accept any clientId', () => {
      expect(refusal(policy.resolve(cert('', 'fleet-backend'), VIN))).to.equal('client_id_mismatch')
    })
  })

  describe('publish', () => {
    it('a vehicle publishes to its own topics only, never $SYS', () => {
      const g = grantOf(policy.resolve(cert(VIN, 'vehicle'), VIN))
      expect(g.canPublish(`vehicles/${VIN}/telemetry/speed`)).to.equal(true)
      expect(g.canPublish(`vehicles/${VIN}/status`)).to.equal(true)
      expect(g.canPublish(`vehicles/${VIN}/command-results`)).to.equal(true)
      expect(g.canPublish(`vehicles/${OTHER_VIN}/telemetry/speed`)).to.equal(false)
      expect(g.canPublish(`vehicles/${OTHER_VIN}/status`)).to.equal(false)
      expect(g.canPublish(`vehicles/${VIN}/commands`)).to.equal(false)
      expect(g.canPublish(`vehicles/${VIN}/telemetry/speed/extra`)).to.equal(false)
      expect(g.canPublish(`vehicles/${VIN}/telemetry`)).to.equal(false)
      expect(g.canPublish('$SYS/x')).to.equal(false)
    })

    it('refuses wildcard, empty and NUL topic names even where a rule would match', () => {
      const g = grantOf(policy.resolve(cert(VIN, 'vehicle'), VIN))
      expect(g.canPublish(`vehicles/${VIN}/telemetry/+`)).to.equal(false)
      expect(g.canPublish(`vehicles/${VIN}/telemetry/#`)).to.equal(false)
      expect(g.canPublish(`vehicles/${VIN}/telemetry/a\u0000`)).to.equal(false)
      expect(g.canPublish('')).to.equal(false)
    })

    it('a backend publishes commands to any car, not telemetry; a monitor publishes nothing', () => {
      const b = grantOf(policy.resolve(cert('backend', 'fleet-backend'), 'backend'))
      expect(b.canPublish(`vehicles/${VIN}/commands`)).to.equal(true)
      expect(b.canPublish(`vehicles/${VIN}/telemetry/speed`)).to.equal(false)
      const m = grantOf(policy.resolve(cert('monitor', 'fleet-monitor'), 'monitor'))
      expect(m.publishRules).to.deep.equal([])
      expect(m.canPublish(`vehicles/${VIN}/status`)).to.equal(false)
    })
  })

  describe('subscribe', () => {
    it('a vehicle gets its commands, not another car\'s, nor any wildcard over cars', () => {
      const g = grantOf(policy.resolve(cert(VIN, 'vehicle'), VIN))
      expect(g.canSubscribe(`vehicles/${VIN}/commands`)).to.equal(true)
      expect(g.canSubscribe(`vehicles/${OTHER_VIN}/commands`)).to.equal(false)
      expect(g.canSubscribe('vehicles/#')).to.equal(false)
      expect(g.canSubscribe('vehicles/+/commands')).to.equal(false)
      expect(g.canSubscribe('#')).to.equal(false)
      expect(g.canSubscribe('$SYS/#')).to.equal(false)
    })

    it('canReceive re-checks each delivery (a persisted vehicles/# must not leak)', () => {
      const g = grantOf(policy.resolve(cert(VIN, 'vehicle'), VIN))
      expect(g.canReceive(`vehicles/${VIN}/commands`)).to.equal(true)
      expect(g.canReceive(`vehicles/${OTHER_VIN}/telemetry/speed`)).to.equal(false)
      expect(g.canReceive(`vehicles/${OTHER_VIN}/commands`)).to.equal(false)
      const b = grantOf(policy.resolve(cert('backend', 'fleet-backend'), 'backend'))
      expect(b.canReceive(`vehicles/${VIN}/telemetry/speed`)).to.equal(true)
      expect(b.canReceive(`vehicles/${VIN}/commands`)).to.equal(false)
    })

    it('a backend: every cover / no-cover example of rule vehicles/+/telemetry/+', () => {
      const g = grantOf(policy.resolve(cert('backend', 'fleet-backend'), 'backend'))
      for (const f of [`vehicles/${VIN}/telemetry/speed`, 'vehicles/+/telemetry/+', `vehicles/${VIN}/telemetry/+`]) {
        expect(g.canSubscribe(f), f).to.equal(true)
      }
      for (const f of ['vehicles/#', 'vehicles/+/commands', '#', 'vehicles/+/telemetry/#', '+/+/telemetry/+', '$SYS/#']) {
        expect(g.canSubscribe(f), f).to.equal(false)
      }
    })
  })
})
