// The layer rules of docs/ARCHITECTURE.md, checked in CI (`npm run lint:layers`).
// Each folder of src/ lists what it may import; anything else is an upward
// import and fails the build. No circle anywhere.
const LAYERS = {
  contract: [],
  config: ['contract'],
  proxy: ['contract'],
  aedes: ['contract'],
  identity: ['contract'],
  policy: ['contract', 'identity'],
  pki: ['contract', 'identity', 'policy'],
  commands: ['contract', 'identity', 'pki'],
  audit: ['contract', 'identity'],
  metrics: ['contract'],
  tls: ['contract', 'identity', 'pki'],
  client: ['contract', 'pki'],
  stores: ['contract', 'identity', 'pki', 'policy', 'audit'],
  revocation: ['contract', 'identity', 'pki', 'policy', 'audit', 'stores'],
  sessions: ['contract', 'identity', 'audit', 'stores', 'aedes'],
  provisioning: ['contract', 'identity', 'pki', 'policy', 'audit', 'client', 'stores', 'revocation'],
  cluster: ['contract', 'audit', 'stores', 'revocation', 'sessions', 'aedes'],
  reload: ['contract', 'identity', 'policy', 'tls'],
  resumption: ['contract', 'audit', 'stores', 'tls'],
  checks: ['contract', 'identity', 'policy', 'pki', 'commands', 'audit', 'revocation', 'sessions', 'stores'],
  broker: ['contract', 'aedes', 'config', 'proxy', 'identity', 'policy', 'pki', 'commands', 'audit', 'metrics', 'tls', 'stores', 'revocation', 'sessions', 'cluster', 'reload', 'checks', 'resumption'],
}
const folders = Object.keys(LAYERS)

module.exports = {
  forbidden: [
    { name: 'no-circular', severity: 'error', comment: 'no import circle anywhere', from: {}, to: { circular: true } },
    ...folders.map((folder) => ({
      name: `layer-${folder}`,
      severity: 'error',
      comment: `src/${folder} may import only ${LAYERS[folder].join(', ') || 'nothing of fleetgate'} (docs/ARCHITECTURE.md)`,
      from: { path: `^src/${folder}/` },
      to: { path: `^src/`, pathNot: [`^src/(${[folder, ...LAYERS[folder]].join('|')})/`] },
    })),
    {
      name: 'src-not-above',
      severity: 'error',
      comment: 'the library never imports the simulator, the benchmarks or the tests',
      from: { path: '^src/' },
      to: { path: '^(simulator|bench|test)/' },
    },
    {
      name: 'only-cli-and-index-at-top',
      severity: 'error',
      comment: 'only the CLI imports the public entry; nothing in src imports the CLI',
      from: { path: '^src/', pathNot: '^src/cli/' },
      to: { path: '^src/(cli/|index\\.ts$)' },
    },
    {
      name: 'public-api-only',
      severity: 'error',
      comment: 'the simulator and the benchmarks are clients of the public API: src/index.ts and its documented sub-paths fleetgate/testing (src/testing.ts) and fleetgate/cli (src/cli/index.ts)',
      from: { path: '^(simulator|bench)/' },
      to: { path: '^src/', pathNot: '^src/(index|testing|cli/index)\\.ts$' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    exclude: { path: '^(dist|node_modules)/' },
  },
}
