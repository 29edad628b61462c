/**
 * Import boundaries (`npm run lint`). Each rule names the design decision it guards; an
 * exception names its file and its reason. Type-only imports count: they couple as much.
 * test/ and bench/ may import anything.
 * @type {import('dependency-cruiser').IConfiguration}
 */

/** Files that build the object graph: each service's main.ts and the local stack's launchers. */
const COMPOSITION_ROOTS = '^services/(api|worker)/main\\.ts$|^services/local/';
const TESTS = '^(test|bench)/';

module.exports = {
  forbidden: [
    {
      name: 'no-cycle',
      comment: 'A cycle makes two modules one; split out what both need.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'machines-are-pure',
      comment: 'Machines import only xstate and each other: no I/O, no clock, no services.',
      severity: 'error',
      from: { path: '^machines/' },
      to: { pathNot: ['^machines/', '^node_modules/xstate/'] },
    },
    {
      name: 'api-not-to-worker',
      comment: 'The API and the worker are separate services; what both need lives in services/shared.',
      severity: 'error',
      from: { path: '^services/api/' },
      to: { path: '^services/worker/' },
    },
    {
      name: 'worker-not-to-api',
      comment: 'The API and the worker are separate services; what both need lives in services/shared.',
      severity: 'error',
      from: { path: '^services/worker/' },
      to: { path: '^services/api/' },
    },
    {
      name: 'shared-not-to-services',
      comment: 'services/shared is below every service; it imports none of them.',
      severity: 'error',
      from: { path: '^services/shared/' },
      to: { path: '^services/(api|worker|cli|local)/' },
    },
    {
      name: 'contracts-stand-alone',
      comment: 'Contracts are what infra, web and every service agree on: they import only other contracts.',
      severity: 'error',
      from: { path: '^services/shared/contracts/' },
      to: { pathNot: '^services/shared/contracts/' },
    },
    {
      name: 'infra-only-contracts',
      comment:
        'The CDK app shares only contracts with the services. Exception: circle.ts, which cot-app.ts uses to validate the ' +
        'circle file at synth (loadCircle, modelIdsOf) so a bad circle fails before a deploy and the ' +
        'Bedrock grant names its models; issue 12 ("contracts that stand alone") is to move that out.',
      severity: 'error',
      from: { path: '^infra/' },
      to: {
        path: '^(machines|services|web|test|bench|fixtures)/',
        pathNot: ['^services/shared/contracts/', '^services/shared/circle/circle\\.ts$'],
      },
    },
    {
      name: 'web-only-contracts',
      comment: 'The web app shares only contracts with the backend (it runs in a browser).',
      severity: 'error',
      from: { path: '^web/' },
      to: {
        path: '^(machines|services|infra|test|bench|fixtures)/',
        pathNot: '^services/shared/contracts/',
      },
    },
    {
      name: 'web-imports-resolve',
      comment:
        'An import of backend code from web/ must resolve (a relative path, or an alias in the root ' +
        'tsconfig) or this check cannot see which boundary it crosses.',
      severity: 'error',
      from: { path: '^web/' },
      to: { couldNotResolve: true, path: 'contracts|services|machines|infra' },
    },
    {
      name: 'adapters-only-in-roots',
      comment:
        'Only composition roots (services/api/main.ts, services/worker/main.ts, the local stack ' +
        'launchers in services/local/) and tests pick adapters; everything else takes ports, and ' +
        'catches the errors the ports name (services/shared/errors.ts).',
      severity: 'error',
      from: {
        pathNot: [
          COMPOSITION_ROOTS,
          TESTS,
          '^services/shared/adapters/',
        ],
      },
      to: { path: '^services/shared/adapters/' },
    },
    {
      name: 'deployed-code-not-to-local-stack',
      comment: 'What runs in AWS (and the web app) never depends on the local stand-ins.',
      severity: 'error',
      from: { path: '^(machines|services/(api|worker|shared)|infra|web)/' },
      to: { path: '^services/local/' },
    },
    {
      name: 'cli-only-the-local-token-client',
      comment:
        'The CLI (`npm run ask`, a dev and demo client, not deployed) takes nothing from the local ' +
        'stack but one exception: when COT_TOKEN is unset it finds the running stack through ' +
        '.local/stack.json and signs in at its OpenID provider, through the same stack-file reader ' +
        'and token client (with its constants and errors) that `npm run token` uses.',
      severity: 'error',
      from: { path: '^services/cli/' },
      to: { path: '^services/local/', pathNot: '^services/local/(stack-file|oidc/(token-client|oidc\\.constants|errors))\\.ts$' },
    },
    {
      name: 'local-starts-services-by-their-roots',
      comment:
        'The local stack runs the API and the worker as they run in AWS: through their main.ts ' +
        '(services/local/worker.ts imports services/worker/main.ts to run one more worker in-process), ' +
        'never by reaching into their internals.',
      severity: 'error',
      from: { path: '^services/local/' },
      to: { path: '^services/(api|worker)/', pathNot: '^services/(api|worker)/main\\.ts$' },
    },
    {
      name: 'production-not-to-tests-or-fixtures',
      comment: 'Tests, benchmarks and fixtures serve the code, never the reverse (the Bedrock stand-in reads fixture files as data, not imports).',
      severity: 'error',
      from: { path: '^(machines|services|infra|web)/' },
      to: { path: '^(test|bench|fixtures)/' },
    },
    {
      name: 'no-unresolvable',
      comment: 'An import that does not resolve is a typo or a missing dependency.',
      severity: 'error',
      from: { pathNot: '^web/' },
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^|/)(node_modules|cdk\\.out|dist|\\.local)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      mainFields: ['module', 'main', 'types', 'typings'],
      extensions: ['.ts', '.tsx', '.js', '.mjs', '.cjs', '.json', '.d.ts'],
    },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
