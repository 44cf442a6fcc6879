// Lint rules for the whole repository (flat config): ESLint's and typescript-eslint's recommended sets.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { defineConfig } from 'eslint/config';

// Node's globals for the plain .js/.mjs files (bin/, scripts/); TypeScript checks its own files.
const nodeGlobals = Object.fromEntries(
  [
    'process',
    'console',
    'Buffer',
    'URL',
    'URLSearchParams',
    'setTimeout',
    'clearTimeout',
    'setInterval',
    'clearInterval',
    'setImmediate',
    'clearImmediate',
    'queueMicrotask',
    'structuredClone',
    'AbortController',
    'AbortSignal',
    'TextEncoder',
    'TextDecoder',
    'fetch',
  ].map((name) => [name, 'readonly']),
);

export default defineConfig(
  { ignores: ['dist/', 'node_modules/', '.umbra-state/', 'bench/results/', 'coverage/', '.scratch*/**'] },
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    languageOptions: { ecmaVersion: 2023, sourceType: 'module', globals: nodeGlobals },
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' },
      ],
    },
  },
  {
    // src/runtime/node-http.ts says why: an ESM import of node:http loads node's bundled undici on
    // Node 22/24 in every Umbra process (and in the bench's node floor, which must be as light).
    // Likewise re2js, loaded by src/model/re2.ts on the first regex. Types are erased, so
    // `import type` stays allowed.
    files: ['src/**/*.ts', 'bench/node-floor.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: ['node:http', 'node:https', 'http', 'https']
            .map((name) => ({
              name,
              message:
                "Use `http`/`https` from src/runtime/node-http.ts (or process.getBuiltinModule('node:http')).",
              allowTypeImports: true,
            }))
            .concat({
              name: 're2js',
              message: 'Use re2() from src/model/re2.ts: re2js loads only when a regex is compiled.',
              allowTypeImports: true,
            }),
        },
      ],
    },
  },
);
