// eslint with typescript-eslint's recommended rules, run by `npm run lint`
// (part of `npm test`'s pre-step). The layer rules are dependency-cruiser's
// (.dependency-cruiser.cjs), not eslint's.
import js from '@eslint/js'
import tseslint from 'typescript-eslint'

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'certs/**', 'docker/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', setImmediate: 'readonly', URL: 'readonly', AbortController: 'readonly', queueMicrotask: 'readonly', performance: 'readonly' },
    },
    rules: {
      // `_name` marks a parameter a signature needs but this body does not use
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
    },
  },
  {
    // One place makes every ioredis client, from --redis (plain URL or Sentinel):
    // redisClient() in src/stores/redis.ts. A client made anywhere else would miss
    // Sentinel, the retry strategy and the Cluster refusal.
    files: ['src/**/*.ts'],
    ignores: ['src/stores/redis.ts'],
    rules: {
      'no-restricted-syntax': ['error',
        { selector: 'NewExpression[callee.name=/^(Redis|Cluster|IORedis)$/]', message: 'make Redis clients with redisClient() (src/stores/redis.ts), the one place that builds them from --redis' },
        { selector: 'NewExpression[callee.property.name=/^(Redis|Cluster)$/]', message: 'make Redis clients with redisClient() (src/stores/redis.ts)' },
        { selector: "CallExpression[arguments.0.value='ioredis']", message: 'load ioredis only in src/stores/redis.ts (redisClient)' },
      ],
      '@typescript-eslint/no-restricted-imports': ['error', { paths: [{ name: 'ioredis', allowTypeImports: true, message: 'import ioredis types only; make clients with redisClient() (src/stores/redis.ts)' }] }],
    },
  },
  {
    files: ['**/*.cjs'],
    languageOptions: { sourceType: 'commonjs', globals: { module: 'writable', require: 'readonly', __dirname: 'readonly' } },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
)
