// fleetgate's per-connection state kept on Aedes' objects (src/aedes/slots.ts).
import { expect } from 'chai'
import { ConnectionSlot } from '../../../src/aedes/slots.js'

describe('aedes: connection slots', () => {
  it('each slot holds its own value per object; delete says whether there was one', () => {
    const session = new ConnectionSlot<string>('session')
    const other = new ConnectionSlot<string>('session') // same name, another slot
    const a = {}
    const b = {}
    expect(session.get(a)).to.equal(undefined)
    session.set(a, 'one')
    other.set(a, 'two')
    session.set(b, 'three')
    expect([session.get(a), other.get(a), session.get(b), other.get(b)]).to.deep.equal(['one', 'two', 'three', undefined])
    expect(session.delete(a)).to.equal(true)
    expect(session.delete(a)).to.equal(false)
    expect([session.get(a), other.get(a), session.get(b)]).to.deep.equal([undefined, 'two', 'three'])
  })

  it('a slot is not among the object\'s keys nor in its JSON', () => {
    const slot = new ConnectionSlot<{ secret: string }>('info')
    const client = { id: 'car-1' }
    slot.set(client, { secret: 'x' })
    expect(Object.keys(client)).to.deep.equal(['id'])
    expect(JSON.stringify(client)).to.equal('{"id":"car-1"}')
  })
})
