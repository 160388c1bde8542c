import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { checkConfigCommand } from './commands/check-config.js';
import { doctorCommand } from './commands/doctor.js';
import { execCommand } from './commands/exec.js';
import { proxyCommand } from './commands/proxy.js';
import { resolveCommand } from './commands/resolve.js';
import { serveCommand } from './commands/serve.js';
import { whoamiCommand } from './commands/whoami.js';
import { addServerOptions } from './common.js';
import { addConnectionOptions } from './connection-flags.js';
import { EXIT_OK } from './exit-codes.js';
import { exitCodeFor, failureText, USAGE_ERROR } from './exit-rule.js';
import {
  agentSocketValue,
  bundleValue,
  flagParser,
  modeValue,
  socketValue,
  wholeNumber,
  workersValue,
} from './flag-values.js';
import { addTlsOptions } from './tls-options.js';
import { parseAllowedUpgrades } from './upgrade-protocols.js';
import { parseUpstream } from './upstream.js';
import { WORKERS_HELP } from './workers.js';

export { CliError, EXIT_ERROR, EXIT_OK, EXIT_USAGE } from './exit-codes.js';

const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

function buildProgram(setCode: (code: number) => void): Command {
  const program = new Command('peerauth')
    .description('Kernel-verified caller identity for services on Unix domain sockets')
    .version(version, '-V, --version')
    .showHelpAfterError()
    .exitOverride()
    .configureOutput({
      writeErr: (s) => process.stderr.write(s),
      writeOut: (s) => process.stdout.write(s),
      // Commander's own refusals (unknown option, missing argument) carry a code like every other failure.
      outputError: (s, write) => write(`peerauth: ${USAGE_ERROR}: ${s.replace(/^error: /, '')}`),
    });

  const run =
    <A extends unknown[]>(fn: (...a: A) => Promise<number>) =>
    async (...a: A) => {
      setCode(await fn(...a));
    };

  addTlsOptions(
    addConnectionOptions(
      addServerOptions(
        program
          .command('serve')
          .description('serve GET /whoami and /healthz over HTTP on the socket')
          .option('--workers <n|auto>', WORKERS_HELP, workersValue),
      ),
      '10000',
    ),
  ).action(run((opts) => serveCommand(opts)));

  addTlsOptions(
    addConnectionOptions(
      addServerOptions(
        program
          .command('proxy')
          .description(
            'authenticating reverse proxy: forward to an upstream with the identity in X-Peerauth-* headers',
          )
          .requiredOption('--upstream <url>', 'http://host:port or unix:/path', flagParser(parseUpstream))
          .option('--workers <n|auto>', WORKERS_HELP, workersValue)
          .option('--raw', 'forward bytes unchanged after the policy check (not HTTP)')
          .option(
            '--allow-upgrade <protocols>',
            'comma-separated protocols an Upgrade is forwarded for, or none; never h2c (default: websocket)',
            flagParser(parseAllowedUpgrades),
          ),
      ),
      // With --raw the upstream may speak first and its client only listen, as for exec.
      { describe: '10000; 0 with --raw' },
    ),
  ).action(run((opts) => proxyCommand(opts)));

  addConnectionOptions(
    addServerOptions(
      program
        .command('exec')
        .description(
          'run CMD per connection, the socket on its stdin/stdout and the identity in PEERAUTH_* variables',
        )
        .argument('<command...>', 'the command and its arguments, after --')
        .option(
          '--max-children <n>',
          'at most this many children at once; further connections are refused',
          wholeNumber('--max-children', 1),
          64,
        ),
    ),
    // A child may speak first and its client only listen: no idle timeout unless asked for.
    '0',
  ).action(run((command: string[], opts) => execCommand(command, opts)));

  program
    .command('whoami')
    .description('connect to a peerauth server and print what it sees of you')
    .option('--socket <path>', 'socket path (default: the server default)', socketValue)
    .option('--json', 'print JSON')
    .action(run((opts) => whoamiCommand(opts)));

  program
    .command('resolve')
    .description('run the identity pipeline for a uid or username and explain each stage')
    .argument('<uid|username>')
    .option('--config <file>', 'identity config JSON (default: the embedded one)')
    .option('--json', 'print the whole identity as JSON')
    .action(run((who: string, opts) => resolveCommand(who, opts)));

  program
    .command('check-config')
    .description('validate an identity config; every problem is listed with its path')
    .argument('<file>')
    .option('--svid-cert <file>', "also check the server's SVID certificate chain, PEM")
    .option('--svid-key <file>', "also check the SVID's private key, PEM")
    .option(
      '--bundle <trust-domain=file>',
      'also check this bundle (repeatable; wins over trustDomains)',
      bundleValue,
    )
    .action(run((file: string, opts) => checkConfigCommand(file, opts)));

  program
    .command('doctor')
    .description('platform support, socket directory, config, addon and SPIRE agent checks')
    .option('--socket <path>', 'socket path to check (default: the server default)', socketValue)
    .option('--config <file>', 'identity config JSON to check')
    .option(
      '--mode <octal>',
      'socket mode to check: does every directory on the path let in whom it admits?',
      modeValue,
    )
    .option(
      '--workload-api <socket>',
      "ask the SPIRE agent's Workload API: reachable? the SVID's ID and expiry, the trust domains it holds",
      agentSocketValue,
    )
    .option('--svid-cert <file>', "the server's SVID certificate chain to check, PEM")
    .option('--svid-key <file>', "the SVID's private key to check, PEM")
    .option(
      '--bundle <trust-domain=file>',
      'a bundle to check (repeatable; wins over trustDomains)',
      bundleValue,
    )
    .action(run((opts) => doctorCommand(opts)));

  return program;
}

/** Runs the CLI and returns its exit code: 0 ok, 1 runtime or validation error, 2 usage error. */
export async function main(argv: string[]): Promise<number> {
  let code = EXIT_OK;
  const program = buildProgram((c) => {
    code = c;
  });
  try {
    await program.parseAsync(argv);
    return code;
  } catch (err) {
    const text = failureText(err);
    if (text !== null) process.stderr.write(`peerauth: ${text}\n`);
    return exitCodeFor(err);
  }
}
