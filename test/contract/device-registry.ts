// The device registry contract (src/stores/registry.ts), run against every
// implementation: describeDeviceRegistry(name, makeRegistry) per store.
import { expect } from 'chai'
import type { DeviceRegistry, RegistryEvent, RegistryRecord } from '../../src/stores/index.js'
import { fp, storesPerTest, until, type MakeStore } from './harness.js'

const record = (i: number, state: RegistryRecord['state'] = 'issued', nonce?: string): RegistryRecord => ({
  serial: i.toString(16), notAfter: '2030-01-01T00:00:00.000Z', issuedAt: `2026-01-01T00:00:${String(i % 60).padStart(2, '0')}.000Z`, state, ...(nonce !== undefined ? { nonce } : {}),
})

export function describeDeviceRegistry (name: string, makeRegistry: MakeStore<DeviceRegistry>): void {
  describe(`device registry contract: ${name}`, function () {
    this.timeout(20_000)
    const registries = storesPerTest(makeRegistry)

    it('an unknown VIN has no records', async () => {
      const r = await registries.open()
      expect(await r.get('VIN0')).to.deep.equal({})
      expect(await r.record('VIN0', fp(1))).to.equal(null)
      expect(await r.markActive('VIN0', fp(1))).to.equal(false)
    })

    it('set: every certificate of a VIN by fingerprint, as written (nonce kept, or absent), read by another registry too; a later set replaces', async () => {
      const writer = await registries.open()
      await writer.set('VIN1', fp(1), record(1, 'issued', 'n-1'))
      await writer.set('VIN1', fp(2), record(2))
      await writer.set('VIN2', fp(3), record(3))
      const reader = await registries.open()
      for (const r of [writer, reader]) {
        expect(await r.get('VIN1')).to.deep.equal({ [fp(1)]: record(1, 'issued', 'n-1'), [fp(2)]: record(2) })
        expect(await r.record('VIN1', fp(2))).to.deep.equal(record(2))
        expect(await r.record('VIN1', fp(3))).to.equal(null)
      }
      await writer.set('VIN1', fp(1), record(1, 'superseded', 'n-1'))
      expect((await reader.get('VIN1'))[fp(1)]).to.deep.equal(record(1, 'superseded', 'n-1'))
    })

    it('markActive: `issued` -> `active` once, the rest of the record kept; any other state, or none, is left alone', async () => {
      const r = await registries.open()
      await r.set('VIN3', fp(1), record(1, 'issued', 'n-1'))
      await r.set('VIN3', fp(2), record(2, 'superseded'))
      await r.set('VIN3', fp(3), record(3, 'revoked'))
      expect(await r.markActive('VIN3', fp(1))).to.equal(true)
      expect(await r.markActive('VIN3', fp(1))).to.equal(false)
      expect(await (await registries.open()).record('VIN3', fp(1))).to.deep.equal(record(1, 'active', 'n-1'))
      expect(await r.markActive('VIN3', fp(2))).to.equal(false)
      expect(await r.markActive('VIN3', fp(3))).to.equal(false)
      expect(await r.markActive('VIN3', fp(4))).to.equal(false)
      expect(await r.get('VIN3')).to.deep.equal({ [fp(1)]: record(1, 'active', 'n-1'), [fp(2)]: record(2, 'superseded'), [fp(3)]: record(3, 'revoked') })
    })

    it('watch: a first connect marked by another registry arrives as a first_connect event; one that changed nothing does not', async () => {
      const provisioner = await registries.open()
      const events: RegistryEvent[] = []
      await provisioner.watch((e) => events.push(e))
      const broker = await registries.open()
      await broker.set('VIN4', fp(1), record(1))
      await broker.set('VIN4', fp(2), record(2, 'active'))
      expect(await broker.markActive('VIN4', fp(2))).to.equal(false)
      expect(await broker.markActive('VIN4', fp(1))).to.equal(true)
      expect(await until(() => events.length >= 1)).to.equal(true)
      await new Promise((resolve) => setTimeout(resolve, 300))
      expect(events).to.deep.equal([{ kind: 'first_connect', vin: 'VIN4', fingerprint: fp(1) }])
    })

    it('a record another registry wrote an instant ago is found at once, by a watching registry too (the connect check after a provisioning)', async () => {
      const broker = await registries.open()
      await broker.watch(() => {})
      const provisioner = await registries.open()
      for (let i = 0; i < 10; i++) {
        await provisioner.set('VIN5', fp(i), record(i))
        expect((await broker.record('VIN5', fp(i)))?.state, `record ${i}`).to.equal('issued')
        expect(await broker.markActive('VIN5', fp(i)), `record ${i}`).to.equal(true)
      }
      expect((await provisioner.get('VIN5'))[fp(9)]?.state).to.equal('active')
    })
  })
}
