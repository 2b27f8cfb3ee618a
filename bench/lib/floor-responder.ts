// The provisioning storm's floor (bench/provisioning.ts): the cheapest thing
// that can answer a car's request with a real certificate. A raw-MQTT client of
// a bare Aedes broker, with the provisioner's certificate: it signs each CSR
// with the same fast issuer as `fleetgate provisioner` and answers at QoS 1,
// but keeps no registry, no nonces, no rate limit, no audit log, and nothing
// publishes first_connect. The storm's cars run the same exchange against it,
// so the floor tells what the exchange itself costs on this machine and how
// much of the storm is fleetgate's own work.
// Started with fork(): argv = <broker port> <dev PKI dir>; sends 'ready' once subscribed.
import { readFileSync } from 'node:fs'
import { createSecureContext } from 'node:tls'
import mqttPacket from 'mqtt-packet'
import { mqttConnect, pubackPacket, subscribePacket } from './mqtt-raw.js'
import { authorize, signRequest, loadIssuer, parseRequestTopic, parseRequestBody, responseTopic, issuedResponse, rejectedResponse, REQUEST_FILTERS } from '../../src/index.js'
import { devPkiPaths } from '../../src/testing.js'

const [port, dir] = process.argv.slice(2) as [string, string]
const pki = devPkiPaths(dir, [])
const issuer = loadIssuer(pki.issuing.cert, pki.issuing.key)
const chainPem = readFileSync(pki.issuing.cert, 'utf8')
const lifetimeMs = 30 * 86_400_000

process.on('SIGTERM', () => process.exit(0))

async function main (): Promise<void> {
  const ctx = createSecureContext({ ca: readFileSync(pki.root.cert), cert: readFileSync(pki.provisioner.cert), key: readFileSync(pki.provisioner.key) })
  const socket = await mqttConnect(Number(port), ctx, 'bench-floor-responder')
  const parser = mqttPacket.parser({ protocolVersion: 4 })
  let messageId = 0
  let subacks = 0
  parser.on('packet', (p) => {
    if (p.cmd === 'suback') { if (++subacks === REQUEST_FILTERS.length) process.send!('ready'); return }
    if (p.cmd !== 'publish') return
    if (p.qos === 1) socket.write(pubackPacket(p.messageId!))
    const topic = parseRequestTopic(p.topic)
    const body = topic ? parseRequestBody(p.payload as Buffer) : null
    if (!topic || !body?.ok || !body.value.csrDer) return
    const { nonce, csrDer } = body.value
    const decision = signRequest(issuer, authorize({ vin: topic.vin, lifetimeMs, organization: issuer.organization }), topic.vin, csrDer)
    const answer = decision.ok ? issuedResponse(nonce, decision.value.pem, chainPem, new Date(Date.now() + lifetimeMs)) : rejectedResponse(nonce, decision.reason)
    messageId = (messageId % 0xffff) + 1
    socket.write(mqttPacket.generate({ cmd: 'publish', topic: responseTopic(topic.channel, topic.vin), qos: 1, messageId, retain: false, dup: false, payload: JSON.stringify(answer) }))
  })
  socket.on('data', (d: Buffer) => parser.parse(d))
  socket.on('close', () => process.exit(0))
  for (const filter of REQUEST_FILTERS) socket.write(subscribePacket(filter, 1))
}

main().catch((err: unknown) => {
  process.stderr.write(`bench floor responder failed: ${String(err)}\n`)
  process.exit(1)
})
