import pino, { type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

/**
 * Keys whose values pino replaces with [REDACTED] wherever they appear in a log object
 * (STYLE.md "Logging"). Secret parameters are never put into log objects in the first place;
 * this is the safety net for config, connection and env dumps.
 */
export const REDACT_PATHS: readonly string[] = [
  'password',
  '*.password',
  'url',
  '*.url',
  'databaseUrl',
  'amqpUrl',
  'jwtSecret',
  '*.jwtSecret',
  'jwt_secret',
  '*.jwt_secret',
  'encryptionKey',
  '*.encryptionKey',
  'encryption_key',
  '*.encryption_key',
  'token',
  '*.token',
  'apiToken',
  'candidate_access_token',
  '*.candidate_access_token',
  'secret',
  '*.secret',
  'secrets',
  '*.secrets',
  'parameters',
  '*.parameters',
  'env',
  '*.env',
  'headers.authorization',
];

export interface LoggerOptions {
  level: LevelWithSilent;
  format: 'json' | 'pretty';
  /** Destination stream; default stdout (upstream logs to stdout). */
  destination?: NodeJS.WritableStream;
  base?: Record<string, unknown>;
}

/** The root logger. Modules take `log.child({ component })`. */
export function createLogger(opts: LoggerOptions): Logger {
  const destination = opts.destination ?? process.stdout;
  const common = {
    level: opts.level,
    base: { service: 'attune-agent', ...(opts.base ?? {}) },
    redact: { paths: [...REDACT_PATHS], censor: '[REDACTED]' },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label: string) => ({ level: label }) },
  };
  if (opts.format === 'pretty') {
    return pino(common, createPrettyStream(destination));
  }
  return pino(common, destination as pino.DestinationStream);
}

/**
 * A small human-readable formatter (`pretty` format) without pino-pretty's worker threads,
 * which a single-executable bundle cannot load.
 */
function createPrettyStream(out: NodeJS.WritableStream): pino.DestinationStream {
  return {
    write(line: string): void {
      let obj: Record<string, unknown>;
      try {
        obj = JSON.parse(line) as Record<string, unknown>;
      } catch {
        out.write(line);
        return;
      }
      const { time, level, msg, service: _s, pid: _p, hostname: _h, ...rest } = obj;
      const extras = Object.entries(rest)
        .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
        .join(' ');
      out.write(`${String(time ?? '')} ${String(level ?? '').toUpperCase().padEnd(5)} ${String(msg ?? '')}${extras ? ` ${extras}` : ''}\n`);
    },
  };
}

/** A logger that drops everything (tests, `detect` report mode). */
export function createSilentLogger(): Logger {
  return pino({ level: 'silent' });
}
