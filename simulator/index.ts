// The bundled simulator: cars and a fleet backend (the attack catalogue and fleets build on these).
export { startCar, type CarOptions, type CarEvent, type RunningCar } from './car.js'
export { connectBackend, type Backend, type CommandOutcome } from './backend.js'
export { credentialsFromFiles, credentialsFromPem, type ClientCredentials, type CredentialsProvider, type CredentialFiles } from './credentials.js'
export { parseBrokerUrl, type BrokerAddress } from './broker-url.js'
export { vehicleTopics } from './topics.js'
export { initialState, apply, tick, type CarState } from './car-state.js'
export { formatCarEvent, jsonLine, safe } from './print.js'
