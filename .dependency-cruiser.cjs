// dependency-cruiser rules for the folder boundaries in docs/architecture §2.3:
//
//   agent-desk → dialogs → contracts ← integrations ← channels      (main.ts, the composition root, wires everything)
//
// Any file may import any folder's contract.ts. Runtime imports across top-level folders go through that folder's
// index.ts (integrations has no root index: each integration subfolder has its own). main.ts, cli/, bench/ and test/
// may import anything. Run: `npm run depcruise`.

const FOLDERS = '(channels|dialogs|integrations|agent-desk)';
/** Any folder's contract.ts: always importable. */
const CONTRACT = `^${FOLDERS}/contract\\.ts$`;
/** The public runtime entry points of a top-level folder. */
const ENTRY = `^${FOLDERS}/index\\.ts$|^integrations/[^/]+/index\\.ts$`;
/** Server-side implementation packages that the dialog runtime must never touch. */
const IMPLEMENTATION_PACKAGES =
  '^node_modules/(@types/)?(socket\\.io|socket\\.io-client|@socket\\.io/[^/]+|fastify|pg|pg-boss|@electric-sql/pglite|drizzle-orm|redis|sharp)/';

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment:
        'Folders and files form a DAG (§2.3). Break the cycle by moving the shared type into a contract.ts.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'dialogs-no-implementations',
      severity: 'error',
      comment:
        'dialogs/ sees the world only through contracts (ports): no adapters, no integration implementations, no ' +
        'agent desk, no composition root, no socket.io/fastify/database packages. Locale JSON is fine.',
      from: { path: '^dialogs/' },
      to: {
        path: `^(channels|integrations|agent-desk)/|^main\\.ts$|${IMPLEMENTATION_PACKAGES}`,
        pathNot: CONTRACT,
      },
    },
    {
      name: 'dialogs-locales-via-i18n',
      severity: 'error',
      comment:
        'Locale data reaches flows only through dialogs/runtime/i18n.ts (§2.3); flows hold no literals.',
      from: { path: '^dialogs/', pathNot: '^dialogs/runtime/i18n\\.ts$' },
      to: { path: '^locales/' },
    },
    {
      name: 'integrations-no-channels',
      severity: 'error',
      comment:
        'integrations/ depend on contracts and their own subfolders only, never on channels, dialogs or the desk.',
      from: { path: '^integrations/' },
      to: { path: '^(channels|dialogs|agent-desk)/', pathNot: CONTRACT },
    },
    {
      name: 'channels-no-dialogs',
      severity: 'error',
      comment:
        'Adapters only normalise and send: no dialogs, no desk, no storage or LLM (provider helpers such as ' +
        'integrations/twilio are allowed through their index.ts).',
      from: { path: '^channels/' },
      to: { path: '^(dialogs|agent-desk)/|^integrations/(storage|llm)/', pathNot: CONTRACT },
    },
    {
      name: 'agent-desk-only-runtime-api',
      severity: 'error',
      comment:
        'agent-desk/ may import dialogs/index.ts and contracts; never channel adapters, dialogs/flows or stores.',
      from: { path: '^agent-desk/' },
      to: { path: '^(channels|dialogs|integrations)/', pathNot: `${CONTRACT}|^dialogs/index\\.ts$` },
    },
    {
      name: 'agent-desk-ui-only-contract',
      severity: 'error',
      comment:
        'The desk web client is browser code: it imports only agent-desk/contract.ts (and npm packages).',
      from: { path: '^agent-desk/ui/' },
      to: { pathNot: '^agent-desk/ui/|^agent-desk/contract\\.ts$|^node_modules/' },
    },
    {
      name: 'widget-type-only-from-server',
      severity: 'error',
      comment:
        'channels/webchat-widget/ is bundled for the browser: it may import server code (channels/webchat.ts, ' +
        'channels/contract.ts) for types only.',
      from: { path: '^channels/webchat-widget/' },
      to: { pathNot: '^channels/webchat-widget/|^node_modules/', dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'only-root-imports-all',
      severity: 'error',
      comment:
        'main.ts is the composition root; only cli/ (and test/, bench/) build the product through createApp().',
      from: { pathNot: '^(cli|test|bench)/' },
      to: { path: '^main\\.ts$' },
    },
    {
      name: 'no-deep-imports',
      severity: 'error',
      comment:
        "Cross-folder imports go through the other folder's index.ts or a contract.ts (§2.3). main.ts, cli/, bench/ " +
        'and test/ are exempt.',
      from: { path: `^${FOLDERS}/` },
      to: {
        path: `^(${FOLDERS.slice(1, -1)}|cli|bench|test)/`,
        pathNot: `^$1/|${CONTRACT}|${ENTRY}`,
      },
    },
    {
      name: 'not-to-test',
      severity: 'error',
      comment:
        'Non-test code never imports test/ (fakes, helpers, contract suites). The exceptions are the ' +
        'conversation runner and the benchmarks (next rule).',
      from: { pathNot: '^(test|cli/converse|bench)/' },
      to: { path: '^test/' },
    },
    {
      name: 'converse-only-test-fakes',
      severity: 'error',
      comment:
        "cli/converse/ may import test/fakes/ and nothing else under test/: the fakes are the runner's loopback " +
        "providers (Graph API, Bot API, Twilio, SMTP, transcriber), which it needs at run time to drive a city's " +
        "scripts through the channels' real inbound paths. Helpers and suites stay test-only; the fakes are not copied. " +
        'bench/ likewise (the Telegram benchmark runs the fake Bot API as its loopback provider).',
      from: { path: '^(cli/converse|bench)/' },
      to: { path: '^test/', pathNot: '^test/fakes/' },
    },
    {
      name: 'contracts-import-only-zod-and-contracts',
      severity: 'error',
      comment:
        'A contract.ts holds types, zod schemas, error codes and ports: no I/O, so it imports only zod and contracts.',
      from: { path: '(^|/)contract\\.ts$' },
      to: { pathNot: '(^|/)contract\\.ts$|^node_modules/zod/' },
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      comment: 'The import does not resolve to a file or package.',
      from: {},
      to: { couldNotResolve: true },
    },
    {
      name: 'no-non-package-json',
      severity: 'error',
      comment: 'The package is not declared in package.json (it only works by hoisting luck).',
      from: {},
      to: { dependencyTypes: ['npm-no-pkg', 'npm-unknown'] },
    },
    {
      name: 'not-to-dev-dep',
      severity: 'error',
      comment: 'Product code must not need a devDependency at run time (npm ci --omit=dev would break it).',
      from: { path: `^(${FOLDERS.slice(1, -1)})/|^main\\.ts$` },
      to: {
        dependencyTypes: ['npm-dev'],
        dependencyTypesNot: ['type-only'],
        pathNot: '^node_modules/@types/',
      },
    },
  ],
  options: {
    doNotFollow: { path: '(^|/)node_modules/' },
    exclude: { path: '^(data|coverage|\\.tmp|\\.git|test-results)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    moduleSystems: ['es6', 'cjs'],
    // Relative imports carry their .ts extension (allowImportingTsExtensions) and JSON uses import attributes.
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      extensions: ['.ts', '.js', '.json'],
      mainFields: ['module', 'main', 'types', 'typings'],
    },
    skipAnalysisNotInRules: true,
    reporterOptions: { text: { highlightFocused: true } },
  },
};
