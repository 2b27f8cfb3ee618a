// endSession: the one way fleetgate ends a live session (revocation, reload).
// The mark comes before close(): Aedes asks about the Will while closing, and
// that Will must be refused.
import { expect } from 'chai'
import type { Client } from 'aedes'
import { endSession, willOfEndedSession } from '../../../src/broker/end-session.js'
import type { Session } from '../../../src/broker/session.js'
import { AuditSink } from '../../harness/audit-sink.js'

function fakeClient (onClose: () => void = () => {}): Client {
  const c = { closed: false, close () { onClose(); c.closed = true } }
  return c as unknown as Client
}

describe('endSession', () => {
  it('marks the session, writes the audit line and the metric, then closes; once', () => {
    const sink = new AuditSink()
    const counted: string[] = []
    const session = { log: sink.logger, endedFor: undefined } as unknown as Session
    const order: string[] = []
    const client = fakeClient(() => order.push(`close endedFor=${session.endedFor} lines=${sink.lines.length} counted=${counted.length}`))
    const end = { evt: 'revocation.kick', reason: 'revoked', audit: { via: 'event', target: 'fingerprint 0123' }, message: 'revoked certificate: session closed' } as const
    expect(endSession(client, session, end, { inc: (evt, reason) => counted.push(`${evt}:${reason}`) })).to.equal(true)
    expect(order).to.deep.equal(['close endedFor=revoked lines=1 counted=1'])
    expect(session.endedFor).to.equal('revoked')
    expect(counted).to.deep.equal(['revocation.kick:revoked'])
    const line = sink.lines[0]!
    expect(Object.keys(line).filter((k) => ['evt', 'reason', 'via', 'target'].includes(k))).to.deep.equal(['evt', 'reason', 'via', 'target'])
    expect(line).to.include({ evt: 'revocation.kick', reason: 'revoked', via: 'event', target: 'fingerprint 0123', msg: 'revoked certificate: session closed', level: 'warn' })
    // a second end (an event and a re-check racing) does nothing
    expect(endSession(client, session, { evt: 'policy.kick', reason: 'policy_changed', message: 'x' })).to.equal(false)
    expect(session.endedFor).to.equal('revoked')
    expect(sink.lines).to.have.length(1)
  })

  it('leaves a session that already closed alone', () => {
    const sink = new AuditSink()
    const session = { log: sink.logger } as unknown as Session
    const client = fakeClient()
    client.close()
    expect(endSession(client, session, { evt: 'policy.kick', reason: 'policy_changed', message: 'x' })).to.equal(false)
    expect(session.endedFor).to.equal(undefined)
    expect(sink.lines).to.have.length(0)
  })

  it('refuses the Will of a session it ended (will.drop), not that of one that just closed', () => {
    const sink = new AuditSink()
    const ended = { log: sink.logger } as unknown as Session
    const endedClient = fakeClient(() => expect(willOfEndedSession(endedClient, ended)).to.equal(false)) // not closed yet
    endSession(endedClient, ended, { evt: 'policy.kick', reason: 'policy_changed', audit: { detail: 'no_role' }, message: 'session closed by reload' })
    expect(willOfEndedSession(endedClient, ended)).to.equal(true)
    expect(sink.find('will.drop', { reason: 'policy_changed' })).to.have.length(1)

    const dropped = { log: sink.logger } as unknown as Session
    const droppedClient = fakeClient()
    droppedClient.close()
    expect(willOfEndedSession(droppedClient, dropped)).to.equal(false)
    expect(sink.find('will.drop')).to.have.length(1)
  })
})
