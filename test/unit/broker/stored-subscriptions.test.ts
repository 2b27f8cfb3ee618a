// storeGrantedSubscriptionsOnly: a persistent session stores only the filters its
// grant covers, and a SUBSCRIBE's list is stored once although Aedes 1.2 hands
// the persistence the whole list once per granted filter.
import { expect } from 'chai'
import type { Client } from 'aedes'
import { storeGrantedSubscriptionsOnly } from '../../../src/broker/stored-subscriptions.js'
import type { SessionRegistry } from '../../../src/broker/session.js'

type Subs = Array<{ topic: string; qos: number }>

function setup (granted: ((topic: string) => boolean) | null) {
  const stored: Subs[] = []
  let checks = 0
  const persistence = { addSubscriptions: async (_c: Client, subs: Subs) => { stored.push(subs) } }
  const grant = granted && { canSubscribe: (t: string) => { checks++; return granted(t) } }
  const sessions = { get: () => (grant ? { grant } : undefined) } as unknown as SessionRegistry
  storeGrantedSubscriptionsOnly(persistence, sessions)
  return { persistence, stored, checks: () => checks }
}

const client = {} as Client

describe('storeGrantedSubscriptionsOnly', () => {
  it('stores a SUBSCRIBE once, granted filters only, however often Aedes asks with that list', async () => {
    const s = setup((t) => !t.includes('#'))
    const subs: Subs = [{ topic: 'a/1', qos: 1 }, { topic: 'vehicles/#', qos: 1 }, { topic: 'a/2', qos: 0 }]
    await Promise.all([s.persistence.addSubscriptions(client, subs), s.persistence.addSubscriptions(client, subs)])
    await s.persistence.addSubscriptions(client, subs)
    expect(s.stored).to.deep.equal([[{ topic: 'a/1', qos: 1 }, { topic: 'a/2', qos: 0 }]])
    expect(s.checks()).to.equal(3)
    // another SUBSCRIBE (another list) is stored on its own
    await s.persistence.addSubscriptions(client, [{ topic: 'a/3', qos: 1 }])
    expect(s.stored).to.have.length(2)
  })

  it('stores nothing for a client with no session (fail closed) or with nothing granted', async () => {
    const none = setup(null)
    await none.persistence.addSubscriptions(client, [{ topic: 'a/1', qos: 1 }])
    expect(none.stored).to.deep.equal([])
    const refused = setup(() => false)
    await refused.persistence.addSubscriptions(client, [{ topic: 'vehicles/#', qos: 1 }])
    expect(refused.stored).to.deep.equal([])
  })
})
