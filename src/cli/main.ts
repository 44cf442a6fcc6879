// The `umbra` command line: run, validate, apply/get/delete (kubectl-like, via the admin API),
// status, httpbin (the demo workload) and demo (the seed's task, end to end).

import { Command, Option } from 'commander';
import { runCommand } from './run-command.js';
import { validateCommand } from './validate-command.js';
import { applyCommand, deleteCommand, getCommand, statusCommand } from './resource-commands.js';
import { httpbinCommand } from './httpbin-command.js';
import { demoCommand } from './demo-command.js';

const program = new Command();
program
  .name('umbra')
  .description('A traffic-mirroring HTTP proxy configured with Kubernetes, Istio and Gateway API resources')
  .version('0.1.0')
  .showHelpAfterError();

const adminOpt = () => new Option('--admin <addr>', "Umbra's admin address").default('127.0.0.1:15000');
const tokenOpt = () => new Option('--token <token>', 'admin token (or UMBRA_ADMIN_TOKEN)').env('UMBRA_ADMIN_TOKEN');

program
  .command('run')
  .description('serve: route and mirror traffic as the resources say')
  .requiredOption('-f, --file <path...>', 'YAML files or directories with resources (watched for changes)')
  .option('--listen <addr>', 'outbound listener (http_proxy target or Host-routed)', '127.0.0.1:15001')
  .option('--admin <addr>', 'admin API and /ready', '127.0.0.1:15000')
  .option('--state-dir <dir>', 'where `umbra apply` stores resources', '.umbra-state')
  .option('-n, --namespace <ns>', 'namespace of Umbra’s clients: short names resolve here', 'default')
  .option('--shadow-suffix <suffix>', 'appended to the mirrored request’s host', '-shadow')
  .option('--no-shadow-suffix', 'send copies with the primary’s Host unchanged')
  .option('--mirror-timeout <ms>', 'timeout of each mirrored request', '10000')
  .option('--mirror-max-in-flight <n>', 'mirrored requests in flight per mirror before copies are dropped', '512')
  .option('--mirror-body-buffer <bytes>', 'request body bytes buffered per mirror before the copy is aborted', String(4 * 1024 * 1024))
  .option('--mirror-body-budget <bytes>', 'request body bytes buffered for all mirrors together', String(64 * 1024 * 1024))
  .option('--access-log <dest>', '"stdout", "off" or a file path', 'stdout')
  .addOption(new Option('--access-log-format <fmt>', 'access log format').choices(['text', 'json']).default('text'))
  .addOption(new Option('--admin-token <token>', 'required for admin writes; mandatory when --admin is not loopback').env('UMBRA_ADMIN_TOKEN'))
  .option('--no-watch', 'do not reload when files change')
  .action(runCommand);

program
  .command('validate')
  .description('check resources and report every issue with file, line and field; exits 1 on errors')
  .requiredOption('-f, --file <path...>', 'YAML files or directories')
  .option('-n, --namespace <ns>', 'namespace of Umbra’s clients', 'default')
  .option('-o, --output <fmt>', 'text or json', 'text')
  .action(validateCommand);

program
  .command('apply')
  .description('create or update resources in a running Umbra (validated first; refused on errors)')
  .requiredOption('-f, --file <path>', 'a YAML file, or - for standard input')
  .option('--dry-run', 'validate against the running configuration without changing it')
  .addOption(adminOpt())
  .addOption(tokenOpt())
  .action(applyCommand);

program
  .command('get')
  .description('list resources served by a running Umbra')
  .argument('<kind>', 'e.g. virtualservice, vs, destinationrule, httproute, service')
  .argument('[name]')
  .option('-n, --namespace <ns>', 'namespace', 'default')
  .option('-A, --all-namespaces', 'every namespace')
  .addOption(new Option('-o, --output <fmt>', 'output format').choices(['table', 'yaml', 'json']).default('table'))
  .addOption(adminOpt())
  .action(getCommand);

program
  .command('delete')
  .description('delete an applied resource from a running Umbra')
  .argument('<kind>')
  .argument('<names...>')
  .option('-n, --namespace <ns>', 'namespace', 'default')
  .addOption(adminOpt())
  .addOption(tokenOpt())
  .action(deleteCommand);

program
  .command('status')
  .description('a short summary of routes, mirrors and their counters')
  .addOption(adminOpt())
  .action(statusCommand);

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
  .addOption(new Option('--api <api>', 'configuration API to walk through').choices(['istio', 'gateway']).default('istio'))
  .option('--listen <addr>', 'proxy listener', '127.0.0.1:15001')
  .option('--admin <addr>', 'admin API', '127.0.0.1:15000')
  .action(demoCommand);

program.parseAsync(process.argv).catch((e: Error) => {
  process.stderr.write(`umbra: ${e.message}\n`);
  process.exit(1);
});
