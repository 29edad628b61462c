// ESLint: rules chosen for bugs (lost promises, unused code, unreachable branches), not taste.
// Import boundaries are checked separately by dependency-cruiser (.dependency-cruiser.cjs).
import { existsSync } from 'node:fs';
import reactHooks from 'eslint-plugin-react-hooks';
import tseslint from 'typescript-eslint';

const root = import.meta.dirname;

/** Rules for every TypeScript file; all need type information. */
const bugRules = {
  // Promises: a dropped promise loses its rejection; fire-and-forget is written `void p` with a why.
  '@typescript-eslint/no-floating-promises': 'error',
  '@typescript-eslint/no-misused-promises': 'error',
  '@typescript-eslint/await-thenable': 'error',
  '@typescript-eslint/return-await': ['error', 'in-try-catch'],
  '@typescript-eslint/prefer-promise-reject-errors': 'error',
  // A step's fromPromise rejects with a StepFailure on purpose: the machine stores it as data.
  '@typescript-eslint/only-throw-error': [
    'error',
    { allow: [{ from: 'file', name: 'StepFailure', path: 'machines/advisory.types.ts' }] },
  ],
  // Unused code.
  '@typescript-eslint/no-unused-vars': [
    'error',
    { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_', ignoreRestSiblings: true },
  ],
  '@typescript-eslint/no-unused-expressions': 'error',
  'no-unreachable': 'error',
  'no-constant-condition': ['error', { checkLoops: 'none' }],
  // Control flow.
  '@typescript-eslint/switch-exhaustiveness-check': [
    'error',
    { considerDefaultExhaustiveForUnions: true, requireDefaultForNonUnion: false },
  ],
  'no-fallthrough': 'error',
  'no-self-compare': 'error',
  'no-unsafe-finally': 'error',
  'no-unsafe-optional-chaining': 'error',
  'no-dupe-keys': 'error',
  'no-duplicate-case': 'error',
  'no-cond-assign': 'error',
  'no-async-promise-executor': 'error',
  'no-template-curly-in-string': 'error',
  'no-constant-binary-expression': 'error',
  'no-dupe-else-if': 'error',
  'no-self-assign': 'error',
  'no-unused-private-class-members': 'error',
  'no-useless-assignment': 'error',
  'no-unmodified-loop-condition': 'error',
  'no-compare-neg-zero': 'error',
  'use-isnan': 'error',
  'valid-typeof': 'error',
  'no-sparse-arrays': 'error',
  'no-unsafe-negation': 'error',
  'no-loss-of-precision': 'error',
  'array-callback-return': 'error',
  'no-setter-return': 'error',
  'getter-return': 'error',
  'no-import-assign': 'error',
  'no-invalid-regexp': 'error',
  'no-empty-character-class': 'error',
  '@typescript-eslint/no-array-delete': 'error',
  '@typescript-eslint/no-for-in-array': 'error',
  '@typescript-eslint/no-implied-eval': 'error',
  '@typescript-eslint/no-unsafe-unary-minus': 'error',
  eqeqeq: ['error', 'smart'],
  'no-implicit-coercion': ['error', { allow: ['!!'] }],
};

/**
 * Production code takes outside data through schemas: an `any` (JSON.parse, an untyped SDK
 * field) must not flow on unchecked. Tests read templates and bodies loosely on purpose.
 */
const noUnsafeAny = {
  '@typescript-eslint/no-unsafe-argument': 'error',
  '@typescript-eslint/no-unsafe-assignment': 'error',
  '@typescript-eslint/no-unsafe-call': 'error',
  '@typescript-eslint/no-unsafe-member-access': 'error',
  '@typescript-eslint/no-unsafe-return': 'error',
};

/** Type-aware linting of the files a tsconfig.json lists; the nearest tsconfig.json wins. */
function typed(files, extra = {}) {
  return {
    files,
    languageOptions: {
      parser: tseslint.parser,
      parserOptions: { projectService: true, tsconfigRootDir: root },
    },
    plugins: { '@typescript-eslint': tseslint.plugin },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: { ...bugRules, ...extra },
  };
}

const backendFiles = [
  'machines/**/*.ts',
  'services/**/*.ts',
  'infra/**/*.ts',
  'test/**/*.ts',
  'bench/**/*.ts',
  'fixtures/**/*.ts',
  'vitest.config.ts',
];

// web/ is linted with its own tsconfig once it has one; until then there is nothing typed to lint.
const webHasTsconfig = existsSync(`${root}/web/tsconfig.json`);

export default [
  {
    ignores: ['**/node_modules/**', '**/cdk.out/**', '.local/**', 'web/dist/**', ...(webHasTsconfig ? [] : ['web/**'])],
  },
  typed(backendFiles),
  typed(['machines/**/*.ts', 'services/**/*.ts', 'infra/**/*.ts'], noUnsafeAny),
  typed(['web/**/*.{ts,tsx}'], noUnsafeAny),
  {
    // Only the two hook rules that find bugs (a hook called conditionally, a stale dependency);
    // the plugin's React Compiler rules are about optimisability, not correctness.
    files: ['web/**/*.{ts,tsx}'],
    plugins: { 'react-hooks': reactHooks },
    rules: { 'react-hooks/rules-of-hooks': 'error', 'react-hooks/exhaustive-deps': 'error' },
  },
];
