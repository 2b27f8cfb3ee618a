// What ended a connection, from the error message Aedes or its parser gave
// (the pinned aedes 1.2.0 and mqtt-packet 9.0.2): a stable reason, or null.
import { expect } from 'chai'
import mqttPacket from 'mqtt-packet'
import { classifyProtocolError } from '../../../src/checks/index.js'

/** the error mqtt-packet's parser really gives for these bytes */
function parserError (bytes: Buffer): Error {
  const parser = mqttPacket.parser({ protocolVersion: 4 })
  let error: Error | undefined
  parser.on('error', (err: Error) => { error ??= err })
  parser.parse(bytes)
  if (!error) throw new Error('the parser took these bytes')
  return error
}

describe('checks/classifyProtocolError', () => {
  it('maps Aedes\' protocol errors to their reasons', () => {
    const cases: Array<[string, string]> = [
      ['Invalid protocol', 'protocol_violation'],
      ['# is not allowed in PUBLISH', 'protocol_violation'],
      ['topic has too many levels', 'protocol_violation'],
      ['Client queue limit reached', 'protocol_violation'],
      ['unacceptable protocol version', 'unsupported_protocol'],
      ['maxInflightInbound exceeded: 10 inbound QoS 2 messages already awaiting PUBREL', 'too_many_inflight'],
    ]
    for (const [message, reason] of cases) expect(classifyProtocolError(new Error(message)), message).to.deep.equal({ reason, detail: message })
  })

  it('maps the parser\'s errors on bytes that are no MQTT packet to malformed_packet', () => {
    const reserved = parserError(Buffer.from([0x00, 0x00])) // packet type 0 is reserved
    expect(classifyProtocolError(reserved)).to.include({ reason: 'malformed_packet' })
    const badConnect = parserError(Buffer.from([0x10, 0x04, 0x00, 0x02, 0x41, 0x42])) // CONNECT with a wrong protocol name
    expect(classifyProtocolError(badConnect)).to.include({ reason: 'malformed_packet' })
  })

  it('gives null for what is not a protocol error (a peer reset, fleetgate\'s own refusals, nothing)', () => {
    expect(classifyProtocolError(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }))).to.equal(null)
    expect(classifyProtocolError(new Error('not authorized: revoked'))).to.equal(null)
    expect(classifyProtocolError(undefined)).to.equal(null)
    expect(classifyProtocolError(new Error(''))).to.equal(null)
  })

  it('clips the detail to 120 characters', () => {
    expect(classifyProtocolError(new Error('Malformed ' + 'x'.repeat(300)))!.detail).to.have.length(120)
  })
})
