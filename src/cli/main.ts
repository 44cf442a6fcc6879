// The `umbra` command line: run, validate, apply/get/delete (kubectl-like, via the admin API),
// status, httpbin (the demo workload) and demo (the seed's task, end to end).

import { availableParallelism } from 'node:os';
import { Command, Option } from 'commander';
import { DEFAULT_DOWNSTREAM } from '../proxy/downstream-options.js';
import { PATH_NORMALIZATIONS } from '../proxy/path-normalize.js';
import { DEFAULT_OVERLOAD } from '../proxy/overload-guard.js';
import { registerReplayCommand } from './replay-command.js';

// Each command's module is loaded when that command runs: `umbra run` then holds none of the admin
// client's, demo's or httpbin's code (undici's whole index among them) — resident memory a sidecar pays for.
type Action = (...args: never[]) => unknown;
function lazy<M, K extends keyof M>(load: () => Promise<M>, name: K): (...args: unknown[]) => Promise<void> {
  return async (...args) => {
    await ((await load())[name] as Action)(...(args as never[]));
  };
}
const runCommand = lazy(() => import('./run-command.js'), 'runCommand');
const validateCommand = lazy(() => import('./validate-command.js'), 'validateCommand');
const resources = () => import('./resource-commands.js');
const applyCommand = lazy(resources, 'applyCommand');
const getCommand = lazy(resources, 'getCommand');
const deleteCommand = lazy(resources, 'deleteCommand');
const statusCommand = lazy(resources, 'statusCommand');
const stopCommand = lazy(resources, 'stopCommand');
const httpbinCommand = lazy(() => import('./httpbin-command.js'), 'httpbinCommand');
const demoCommand = lazy(() => import('./demo-command.js'), 'demoCommand');

const program = new Command();
program
  .name('umbra')
  .description('A traffic-mirroring HTTP proxy configured with Kubernetes, Istio and Gateway API resources')
  .version('0.1.0')
  .showHelpAfterError();

const adminOpt = () => new Option('--admin <addr>', "Umbra's admin address").default('127.0.0.1:15000');
const tokenOpt = () =>
  new Option('--token <token>', 'admin token (or UMBRA_ADMIN_TOKEN)').env('UMBRA_ADMIN_TOKEN');
const tokenFileOpt = () => new Option('--token-file <file>', 'read the admin token from a file');

program
  .command('run')
  .description('serve: route and mirror traffic as the resources say')
  .option(
    '-f, --file <path...>',
    'YAML files or directories with resources (watched for changes); optional with --kubernetes',
  )
  .option('--listen <addr>', 'outbound listener (http_proxy target or Host-routed)', '127.0.0.1:15001')
  .option('--admin <addr>', 'admin API and /ready', '127.0.0.1:15000')
  .option(
    '--state-dir <dir>',
    'where applied resources and comparison results are kept, per configuration (set of -f paths)',
    '.umbra-state',
  )
  .option(
    '--fresh',
    "start without this configuration's applied resources and comparison results (deletes them)",
  )
  .option('-n, --namespace <ns>', 'namespace of Umbra’s clients: short names resolve here', 'default')
  .option(
    '--labels <k=v,...>',
    'labels of Umbra as a gateway workload: Istio Gateways whose selector matches them are served',
  )
  .option('--shadow-suffix <suffix>', 'appended to the mirrored request’s host', '-shadow')
  .option('--no-shadow-suffix', 'send copies with the primary’s Host unchanged')
  .option('--mirror-timeout <ms>', 'timeout of each mirrored request', '10000')
  .option(
    '--mirror-max-in-flight <n>',
    'mirrored requests in flight per mirror before copies are dropped',
    '128',
  )
  .option(
    '--mirror-body-buffer <bytes>',
    'request body bytes buffered per mirror before the copy is aborted',
    String(4 * 1024 * 1024),
  )
  .option(
    '--mirror-total-body-buffer <bytes>',
    'request body bytes buffered for all copies to one mirror (MirrorPolicy totalBodyBufferBytes)',
    String(16 * 1024 * 1024),
  )
  .option(
    '--mirror-body-budget <bytes>',
    'request body bytes buffered for all mirrors together',
    String(64 * 1024 * 1024),
  )
  .option(
    '--overload-max-heap <MiB>',
    'overload guard: heap size the heap thresholds refer to (0 = V8’s heap limit)',
    '0',
  )
  .option(
    '--overload-heap-shed-copies <fraction>',
    'overload guard: heap used / max at which new mirror copies are dropped (0 = never)',
    String(DEFAULT_OVERLOAD.heapShedCopies),
  )
  .option(
    '--overload-heap-refuse-connections <fraction>',
    'overload guard: heap used / max at which new connections are refused (0 = never)',
    String(DEFAULT_OVERLOAD.heapRefuseConnections),
  )
  .option(
    '--overload-loop-delay-shed-copies <ms>',
    'overload guard: event-loop delay at which new mirror copies are dropped (0 = off)',
    '0',
  )
  .option(
    '--overload-loop-delay-refuse-connections <ms>',
    'overload guard: event-loop delay at which new connections are refused (0 = off)',
    '0',
  )
  .option(
    '--compare-budget <bytes>',
    'response body bytes kept for shadow comparison (per worker); past it, bodies are compared by size and hash',
    String(64 * 1024 * 1024),
  )
  .option('--access-log <dest>', '"stdout", "off" or a file path', 'stdout')
  .addOption(
    new Option('--access-log-format <fmt>', 'access log format').choices(['text', 'json']).default('text'),
  )
  .addOption(
    new Option(
      '--admin-token <token>',
      'required for admin writes; mandatory when --admin is not loopback',
    ).env('UMBRA_ADMIN_TOKEN'),
  )
  .option('--admin-token-file <file>', 'read --admin-token from a file (e.g. a mounted Secret)')
  .option('--no-watch', 'do not reload when files change')
  .option(
    '--drain-timeout <ms>',
    'on SIGTERM/SIGINT: how long in-flight requests may take to finish (mirrors are never waited for)',
    '10000',
  )
  .addOption(
    new Option('--log-format <fmt>', 'operational log format (startup, reloads, drains)')
      .choices(['text', 'json'])
      .default('text'),
  )
  .option('--max-connections <n>', 'open client connections per listener (per worker); 0 = unlimited', '0')
  .option(
    '--max-requests-per-connection <n>',
    'requests per client connection before it is closed; 0 = unlimited',
    '0',
  )
  .option(
    '--max-headers-count <n>',
    'request header lines; more are answered 431',
    String(DEFAULT_DOWNSTREAM.maxHeadersCount),
  )
  .option(
    '--max-header-size <bytes>',
    'bytes of request line and headers; more are answered 431',
    String(DEFAULT_DOWNSTREAM.maxHeaderBytes),
  )
  .option(
    '--request-headers-timeout <ms>',
    'time to receive a request head, else 408',
    String(DEFAULT_DOWNSTREAM.headersTimeoutMs),
  )
  .option(
    '--request-timeout <ms>',
    'time to receive a whole request, body included, else 408; 0 = none',
    String(DEFAULT_DOWNSTREAM.requestTimeoutMs),
  )
  .option(
    '--idle-timeout <ms>',
    'a connection with no traffic either way for this long is closed (408 if a request waits); 0 = none',
    String(DEFAULT_DOWNSTREAM.idleTimeoutMs),
  )
  .option(
    '--keep-alive-timeout <ms>',
    'an idle keep-alive client connection is closed after this',
    String(DEFAULT_DOWNSTREAM.keepAliveTimeoutMs),
  )
  .option(
    '--xff-trusted-hops <n>',
    'proxies in front of Umbra whose X-Forwarded-For/-Proto are trusted (Envoy xff_num_trusted_hops)',
    '0',
  )
  .addOption(
    new Option(
      '--path-normalization <mode>',
      'request path normalisation shared by matching and forwarding (Istio pathNormalization)',
    )
      .choices([...PATH_NORMALIZATIONS])
      .default('base'),
  )
  .option(
    '--workers <n>',
    'processes serving the listener (node:cluster); 1 = a single process',
    String(availableParallelism()),
  )
  .option('--kubernetes', 'also read resources and Pods from the Kubernetes API server (list+watch)')
  .option(
    '--kubeconfig <path>',
    'kubeconfig for --kubernetes (default: $KUBECONFIG, in-cluster service account, ~/.kube/config)',
  )
  .option('--watch-namespace <ns>', 'with --kubernetes: the namespace to watch (default: --namespace)')
  .option('--all-namespaces', 'with --kubernetes: watch every namespace')
  .option('--no-write-status', 'with --kubernetes: do not write HTTPRoute/Gateway status back')
  .action(runCommand);

program
  .command('validate')
  .description('check resources and report every issue with file, line and field; exits 1 on errors')
  .requiredOption('-f, --file <path...>', 'YAML files or directories')
  .option('-n, --namespace <ns>', 'namespace of Umbra’s clients', 'default')
  .option('--labels <k=v,...>', 'labels Umbra would run with (`umbra run --labels`): selects Istio Gateways')
  .option('-o, --output <fmt>', 'text or json', 'text')
  .action(validateCommand);

program
  .command('apply')
  .description(
    'create or update resources in a running Umbra, all given files as one change (validated first; refused on errors)',
  )
  .requiredOption(
    '-f, --file <path...>',
    'YAML/JSON files, directories, or - for standard input (repeatable)',
  )
  .option('-R, --recursive', 'also read the subdirectories of directories given with -f')
  .option('--dry-run', 'validate against the running configuration without changing it')
  .addOption(adminOpt())
  .addOption(tokenOpt())
  .addOption(tokenFileOpt())
  .action(applyCommand);

program
  .command('get')
  .description('list resources served by a running Umbra, with where each comes from')
  .argument('<kind>', 'e.g. virtualservice, vs, destinationrule, httproute, service')
  .argument('[name]')
  .option('-n, --namespace <ns>', 'namespace', 'default')
  .option('-A, --all-namespaces', 'every namespace')
  .addOption(
    new Option('-o, --output <fmt>', 'output format')
      .choices(['table', 'wide', 'yaml', 'json'])
      .default('table'),
  )
  .addOption(adminOpt())
  .addOption(tokenOpt())
  .addOption(tokenFileOpt())
  .action(getCommand);

program
  .command('delete')
  .description('delete applied resources from a running Umbra: KIND NAME…, or those named in -f FILE')
  .argument('[kind]')
  .argument('[names...]')
  .option('-f, --file <path...>', 'delete the resources these files (directories, - for stdin) define')
  .option('-R, --recursive', 'with -f: also read subdirectories')
  .option('-n, --namespace <ns>', 'namespace', 'default')
  .addOption(adminOpt())
  .addOption(tokenOpt())
  .addOption(tokenFileOpt())
  .action(deleteCommand);

program
  .command('status')
  .description('a short summary of routes, mirrors and their counters')
  .addOption(new Option('-o, --output <fmt>', 'output format').choices(['text', 'json']).default('text'))
  .addOption(adminOpt())
  .addOption(tokenOpt())
  .addOption(tokenFileOpt())
  .action(statusCommand);

program
  .command('stop')
  .description('stop the Umbra serving on --admin (it drains, then exits) and wait until it has')
  .option('--wait <ms>', 'how long to wait for it to exit', '15000')
  .addOption(adminOpt())
  .addOption(tokenOpt())
  .addOption(tokenFileOpt())
  .action(stopCommand);

program
  .command('httpbin')
  .description('run the built-in httpbin-compatible demo workload')
  .option('--listen <addr>', 'address', '127.0.0.1:8080')
  .option('--name <name>', 'name shown in logs', 'httpbin')
  .action(httpbinCommand);

program
  .command('demo')
  .description("walk through the seed's task: route all traffic to v1, then mirror it to v2")
  .option('--once', 'exit after the walkthrough')
  .addOption(
    new Option('--api <api>', 'configuration API to walk through')
      .choices(['istio', 'gateway'])
      .default('istio'),
  )
  .option('--listen <addr>', 'proxy listener', '127.0.0.1:15001')
  .option('--admin <addr>', 'admin API', '127.0.0.1:15000')
  .action(demoCommand);

registerReplayCommand(program);

program.parseAsync(process.argv).catch((e: Error) => {
  process.stderr.write(`umbra: ${e.message}\n`);
  process.exit(1);
});
