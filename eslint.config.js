// ESLint flat config. Rules come from docs/architecture §2.3 (folder boundaries, no process.env outside the
// composition root) and §2.7 (tooling): type-checked typescript-eslint, no `any`, exhaustive switches, no floating
// promises, visible type-only imports, and every disable carries a `-- reason`.
import js from '@eslint/js';
import { defineConfig, globalIgnores } from 'eslint/config';
import tseslint from 'typescript-eslint';

const MOCK_MESSAGE = 'use a loopback fake server (test/fakes/); a needed mock means a seam is missing';
const ENV_MESSAGE =
  'configuration is parsed once in main.ts (the composition root); take it as an argument instead';

/**
 * `// eslint-disable…` must say why: `// eslint-disable-next-line rule -- reason`. A local rule so that no extra
 * package (eslint-plugin-eslint-comments) is needed.
 * @type {import('eslint').Rule.RuleModule}
 */
const requireDisableReason = {
  meta: {
    type: 'suggestion',
    docs: { description: 'Require a `-- reason` on eslint-disable directives' },
    schema: [],
    messages: { missing: 'Add a reason to this directive: `{{directive}} <rules> -- <why>`.' },
  },
  create(context) {
    return {
      Program() {
        for (const comment of context.sourceCode.getAllComments()) {
          const text = comment.value.trim();
          const match = /^(eslint-disable(?:-next-line|-line)?)(?:\s|$)/.exec(text);
          if (match && !/\s--\s*\S/.test(text)) {
            context.report({ loc: comment.loc, messageId: 'missing', data: { directive: match[1] } });
          }
        }
      },
    };
  },
};

export default defineConfig(
  globalIgnores([
    '**/node_modules/',
    'data/',
    'coverage/',
    '.tmp/',
    'test-results/',
    'integrations/storage/migrations/',
    'catalog/',
    'locales/',
  ]),

  {
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    plugins: { local: { rules: { 'require-disable-reason': requireDisableReason } } },
    rules: { 'local/require-disable-reason': 'error' },
  },

  {
    files: ['**/*.{js,mjs,cjs,ts}'],
    extends: [js.configs.recommended],
  },

  {
    files: ['**/*.cjs'],
    languageOptions: {
      sourceType: 'commonjs',
      globals: { module: 'writable', require: 'readonly', __dirname: 'readonly', __filename: 'readonly' },
    },
  },

  {
    files: ['**/*.ts'],
    extends: [tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      parserOptions: {
        // The project service picks the nearest tsconfig.json per file: the root one for everything, and
        // channels/webchat-widget/tsconfig.json (DOM lib) for the browser widget.
        projectService: true,
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': [
        'error',
        { considerDefaultExhaustiveForUnions: true },
      ],
      '@typescript-eslint/no-floating-promises': 'error',
      // Ports return promises; an implementation that happens not to await (`async stop() {}`) is fine.
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/consistent-type-imports': [
        'error',
        { prefer: 'type-imports', fixStyle: 'separate-type-imports', disallowTypeAnnotations: true },
      ],
      '@typescript-eslint/no-unused-vars': [
        'error',
        {
          args: 'after-used',
          argsIgnorePattern: '^_',
          varsIgnorePattern: '^_',
          caughtErrorsIgnorePattern: '^_',
          destructuredArrayIgnorePattern: '^_',
          ignoreRestSiblings: true,
        },
      ],
    },
  },

  // §2.3: no process.env reads outside the composition root (main.ts), cli/, bench/ and test/.
  {
    files: ['channels/**/*.ts', 'dialogs/**/*.ts', 'integrations/**/*.ts', 'agent-desk/**/*.ts'],
    rules: {
      'no-restricted-properties': ['error', { object: 'process', property: 'env', message: ENV_MESSAGE }],
    },
  },

  // §2.6: loopback fakes, not module mocks.
  {
    files: ['test/**/*.ts'],
    rules: {
      'no-restricted-properties': [
        'error',
        { object: 'vi', property: 'mock', message: MOCK_MESSAGE },
        { object: 'vi', property: 'doMock', message: MOCK_MESSAGE },
        { object: 'jest', property: 'mock', message: MOCK_MESSAGE },
        { object: 'jest', property: 'doMock', message: MOCK_MESSAGE },
        { object: 'jest', property: 'unstable_mockModule', message: MOCK_MESSAGE },
      ],
      'no-restricted-syntax': [
        'error',
        {
          selector:
            "AssignmentExpression > MemberExpression.left[object.name=/^(globalThis|global|window|self)$/][property.name='fetch']",
          message: `Do not replace globalThis.fetch: ${MOCK_MESSAGE}`,
        },
        {
          selector: "AssignmentExpression > Identifier.left[name='fetch']",
          message: `Do not replace fetch: ${MOCK_MESSAGE}`,
        },
        {
          selector:
            "CallExpression[callee.object.name=/^(vi|jest)$/][callee.property.name=/^(stubGlobal|spyOn|replaceProperty)$/] > Literal.arguments[value='fetch']",
          message: `Do not stub fetch: ${MOCK_MESSAGE}`,
        },
        {
          selector:
            "CallExpression[callee.object.name='Object'][callee.property.name=/^(defineProperty|assign)$/][arguments.0.name=/^(globalThis|global|window|self)$/]",
          message: `Do not patch globals: ${MOCK_MESSAGE}`,
        },
      ],
    },
  },
);
