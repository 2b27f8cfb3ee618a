// The broker URL parser lives in src/client (the provisioner uses it too).
export { parseBrokerUrl, type BrokerAddress } from '../src/index.js'
