// Lint: typescript-eslint's strict type-checked rules, with types from each package's tsconfig
// (and the root one for tests and scripts) through the TypeScript project service. Formatting is
// Prettier's alone (`npm run format:check`); eslint-config-prettier turns off the rules it owns.
import eslint from '@eslint/js';
import prettier from 'eslint-config-prettier';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['**/dist/', '**/node_modules/', 'data/', '.tmp/', 'coverage/'] },
  eslint.configs.recommended,
  tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // node:test's describe/it/test return promises that the runner itself awaits.
      '@typescript-eslint/no-floating-promises': [
        'error',
        { allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['describe', 'it', 'test', 'suite'] }] },
      ],
      // Numbers and booleans read well in messages (`${ms} ms`); objects and nullish values still do not.
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true }],
      // With noUncheckedIndexedAccess, `!` is how the code says an index is known to exist.
      '@typescript-eslint/no-non-null-assertion': 'off',
      // An async function without await is how doubles and adapters implement promise-returning ports: a throw becomes a rejection.
      '@typescript-eslint/require-await': 'off',
      // A caught value is rethrown (or passed to reject) as it was caught.
      '@typescript-eslint/prefer-promise-reject-errors': ['error', { allowThrowingUnknown: true }],
      // A leading underscore marks what a signature or a loop needs but the body does not use.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      // TypeScript keeps a narrowing such as `signal.aborted === false` across awaits, so every re-check after an await is flagged.
      '@typescript-eslint/no-unnecessary-condition': 'off',
      // `() => void call()` shorthands are the project's style for callbacks.
      '@typescript-eslint/no-confusing-void-expression': ['error', { ignoreArrowShorthand: true }],
    },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: { globals: { console: 'readonly', setInterval: 'readonly', URL: 'readonly' } },
  },
  {
    // Being finished by the engineer who owns it; its parsed JSON is read untyped.
    files: ['scripts/measure-start.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
    },
  },
  prettier,
);
