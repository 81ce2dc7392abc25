import { existsSync, readFileSync, statSync } from 'node:fs';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { AgentError, UsageError, formatErrorChain } from './errors';
import { AGENT_BINARY_NAME, AGENT_VERSION } from './version';
import { loadConfig, type LoadedConfig } from './config/load';
import { createLogger, type Logger } from './log';
import { captureChildBaseEnv } from './execution/child-env';
import { bootstrapDetection, detectRuntimes, formatDetectionJson, formatDetectionReport, formatDetectionTable } from './detect';
import { runAgent } from './agent';
import { runExecCommand } from './local';
import { runInstall } from './commands/install';
import { runWait } from './commands/wait';

/** What the process offers the CLI; injected so tests can run it in-process. */
export interface CliIo {
  argv: readonly string[];
  env: NodeJS.ProcessEnv;
  cwd: string;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

interface GlobalOpts {
  config?: string;
  name?: string;
  logLevel?: string;
  logFormat?: string;
  detectOnly?: boolean;
}

const LEVELS = ['trace', 'debug', 'info', 'warn', 'error'];

/**
 * Entry point: parse flags, call one entry function, map errors to exit codes
 * (0 ok, 1 error, 2 usage — spec 01 §1.2). Only this file calls process.exit (via main.ts).
 */
export async function runCli(io: CliIo): Promise<number> {
  setSelfEnv(io.env);
  let exitCode = 0;
  const program = buildProgram(io, (code) => {
    exitCode = code;
  });
  try {
    await program.parseAsync([...io.argv], { from: 'node' });
    return exitCode;
  } catch (e) {
    if (e instanceof CommanderError) {
      // help and version are exit 0; every other commander error is a usage error.
      return e.exitCode === 0 ? 0 : 2;
    }
    io.stderr.write(`${formatErrorChain(e)}\n`);
    if (e instanceof AgentError) return e.exitCode;
    return 1;
  }
}

/** spec 01 §1.3: set before anything else reads the environment. */
function setSelfEnv(env: NodeJS.ProcessEnv): void {
  env.ATTUNE_AGENT_MODE = 'true';
  env.ATTUNE_AGENT_BINARY_NAME = AGENT_BINARY_NAME;
  env.ATTUNE_AGENT_BINARY_VERSION = AGENT_VERSION;
}

function buildProgram(io: CliIo, setExit: (code: number) => void): Command {
  const out = { writeOut: (s: string) => io.stdout.write(s), writeErr: (s: string) => io.stderr.write(s) };
  const program = new Command(AGENT_BINARY_NAME)
    .description(
      'Attune Universal Worker Agent - Injected into any container to auto-detect and execute actions.\n\n' +
        'Without a command it runs the agent (same as `attune-agent run`): detects interpreters, registers\n' +
        'a worker in PostgreSQL, consumes executions from RabbitMQ and runs them as child processes.',
    )
    .version(`${AGENT_BINARY_NAME} ${AGENT_VERSION}`, '-V, --version', 'print the version and exit')
    .helpOption('-h, --help', 'show help')
    .option('-c, --config <path>', 'configuration file (sets ATTUNE_CONFIG; default ./config.yaml)')
    .option('-n, --name <name>', 'worker name (default: worker.name, ATTUNE_WORKER_NAME, worker-<hostname>)')
    .addOption(new Option('--log-level <level>', 'log level').choices(LEVELS))
    .addOption(new Option('--log-format <format>', 'log format').choices(['json', 'pretty']))
    .option('--detect-only', 'run runtime detection, print the upstream-style report and exit (alias of `detect --report`)')
    .configureOutput(out)
    .exitOverride()
    .showHelpAfterError('(run `attune-agent --help` for usage)')
    .enablePositionalOptions(false)
    .addHelpText(
      'after',
      '\nExit codes: 0 normal stop, 1 error (printed as "Error: ..." on stderr), 2 usage error.\n' +
        'Configuration: YAML file + ATTUNE__SECTION__KEY environment overrides (see README).',
    );

  program.action(async () => {
    const g = program.opts<GlobalOpts>();
    if (g.detectOnly) {
      setExit(await detectCommand(io, g, { json: false, report: true }));
      return;
    }
    setExit(await runCommand(io, g));
  });

  program
    .command('run')
    .description('run the agent (the default command)')
    .configureOutput(out)
    .exitOverride()
    .action(async () => setExit(await runCommand(io, program.opts<GlobalOpts>())));

  program
    .command('detect')
    .description('probe this container for interpreters and print what was found (no database, no broker)')
    .option('--json', 'print stable JSON instead of a table')
    .option('--report', 'print the upstream --detect-only report')
    .configureOutput(out)
    .exitOverride()
    .action(async (opts: { json?: boolean; report?: boolean }) =>
      setExit(await detectCommand(io, program.opts<GlobalOpts>(), { json: !!opts.json, report: !!opts.report })),
    );

  program
    .command('exec')
    .description('run one action locally with the agent\'s engine and print the result JSON (for pack authors)')
    .argument('<action>', 'pack.action ref (looked up under --packs-dir) or path to an action YAML file')
    .option('-p, --param <key=value>', "parameter, typed by the action's declared parameter type (undeclared: JSON when valid, else a string); repeatable", collect, [])
    .option('--params-file <file>', 'JSON file with parameters (flags override it)')
    .option('--packs-dir <dir>', 'packs directory (default: packs_base_dir from config)')
    .option('--timeout <seconds>', 'timeout in seconds (default: the action\'s, else 600)', positiveInt)
    .configureOutput(out)
    .exitOverride()
    .action(async (target: string, opts: { param: string[]; paramsFile?: string; packsDir?: string; timeout?: number }) => {
      const g = program.opts<GlobalOpts>();
      const loaded = loadAgentConfig(io, g);
      const log = makeLogger(io, loaded, g, 'stderr');
      // The action runs in its own process group, so Ctrl-C must be forwarded as a cancel.
      const abort = new AbortController();
      const onSignal = (): void => abort.abort();
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      try {
        setExit(
        await runExecCommand({
          target,
          params: opts.param,
          paramsFile: opts.paramsFile,
          packsDir: opts.packsDir ?? loaded.config.packsBaseDir,
          timeoutSec: opts.timeout,
          config: loaded.config,
          env: io.env,
          cwd: io.cwd,
          stdout: io.stdout,
          stderr: io.stderr,
          log,
          signal: abort.signal,
        }),
        );
      } finally {
        process.removeListener('SIGINT', onSignal);
        process.removeListener('SIGTERM', onSignal);
      }
    });

  program
    .command('install')
    .description('copy this executable and its lib/ into DIR (init-container step; idempotent, atomic)')
    .requiredOption('--to <dir>', 'destination directory, e.g. the shared agent-bin volume')
    .option('--from <dir>', 'source directory (default: the directory of this executable)')
    .configureOutput(out)
    .exitOverride()
    .action(async (opts: { to: string; from?: string }) => {
      await runInstall({ to: opts.to, from: opts.from, stdout: io.stdout, stderr: io.stderr });
      setExit(0);
    });

  program
    .command('wait')
    .description('wait until the database schema or the packs mount is ready (init-container step)')
    .argument('<what>', 'schema | packs', (v: string) => {
      if (v !== 'schema' && v !== 'packs') throw new InvalidArgumentError('expected "schema" or "packs"');
      return v;
    })
    .option('--timeout <seconds>', 'give up after this many seconds', positiveInt, 300)
    .option('--interval <seconds>', 'seconds between checks', positiveInt, 2)
    .option('--path <file>', 'for `packs`: file to wait for (default <packs_base_dir>/core/pack.yaml)')
    .configureOutput(out)
    .exitOverride()
    .action(async (what: 'schema' | 'packs', opts: { timeout: number; interval: number; path?: string }) => {
      const loaded = loadAgentConfig(io, program.opts<GlobalOpts>());
      setExit(
        await runWait({
          what,
          timeoutSec: opts.timeout,
          intervalSec: opts.interval,
          path: opts.path,
          config: loaded.config,
          stdout: io.stdout,
          stderr: io.stderr,
        }),
      );
    });

  return program;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError(`expected a positive whole number, got "${value}"`);
  return n;
}

function loadAgentConfig(io: CliIo, g: GlobalOpts): LoadedConfig {
  if (g.config !== undefined) io.env.ATTUNE_CONFIG = g.config; // spec 01 §1.1
  return loadConfig({
    configPath: g.config,
    name: g.name,
    logLevel: g.logLevel,
    env: io.env,
    cwd: io.cwd,
    readFile: (p) => readFileSync(p, 'utf8'),
    fileExists: (p) => existsSync(p) && statSync(p).isFile(),
  });
}

function makeLogger(io: CliIo, loaded: LoadedConfig, g: GlobalOpts, to: 'stdout' | 'stderr'): Logger {
  const format = (g.logFormat as 'json' | 'pretty' | undefined) ?? loaded.config.log.format;
  const log = createLogger({
    level: loaded.config.log.filter.level,
    format,
    destination: to === 'stdout' ? io.stdout : io.stderr,
  });
  for (const w of loaded.warnings) log.warn(w);
  return log;
}

async function detectCommand(io: CliIo, g: GlobalOpts, mode: { json: boolean; report: boolean }): Promise<number> {
  const loaded = loadAgentConfig(io, g);
  // Logs go to stderr here so the report on stdout stays machine-readable (upstream interleaves them);
  // only warnings unless --log-level or RUST_LOG asks for more (a config file's log.level does not).
  // The logger is built only when there is a warning to print: `detect` logs nothing else, and
  // loading pino took ~10 ms of the command's time beyond `--version` (issue 18, detection).
  const explicit = loaded.config.log.filter.source === 'cli' || loaded.config.log.filter.source === 'RUST_LOG';
  let log: Logger | null = null;
  const logger = (): Logger => {
    if (log === null) {
      log = makeLogger(io, loaded, g, 'stderr');
      if (!explicit) log.level = 'warn';
    }
    return log;
  };
  if (loaded.warnings.length > 0) logger();
  const childEnv = captureChildBaseEnv(io.env, loaded.config.worker.passthroughEnv);
  const started = process.hrtime.bigint();
  const boot = await bootstrapDetection({ env: io.env, childEnv });
  const durationMs = Number(process.hrtime.bigint() - started) / 1e6;
  for (const w of boot.warnings) logger().warn(w);
  // The report shows what detection finds on this system; with an override it shows the unfiltered list.
  const shown = boot.overrideSet || boot.detected === null ? await freshDetection(childEnv) : boot.detected;
  if (mode.json) {
    io.stdout.write(
      formatDetectionJson(shown, {
        durationMs,
        overrideSet: boot.overrideSet,
        workerRuntimes: io.env.ATTUNE_WORKER_RUNTIMES ?? boot.setWorkerRuntimes,
      }),
    );
  } else if (mode.report) {
    io.stdout.write(formatDetectionReport(shown, { overrideSet: boot.overrideSet }));
  } else {
    io.stdout.write(formatDetectionTable(shown));
  }
  return 0;
}

function freshDetection(childEnv: Record<string, string>) {
  return detectRuntimes({ env: childEnv });
}

async function runCommand(io: CliIo, g: GlobalOpts): Promise<number> {
  const loaded = loadAgentConfig(io, g);
  const log = makeLogger(io, loaded, g, 'stdout');
  // spec 07 §4.3: upstream's first line ("Tracing initialized") names the directive (its `level`
  // field; pino owns `level` here) and where it came from.
  const { directive, source } = loaded.config.log.filter;
  log.info({ directive, levelSource: source, format: g.logFormat ?? loaded.config.log.format }, 'logging initialized');
  return runAgent({ config: loaded.config, env: io.env, log, cliName: g.name });
}

export { UsageError };
