/** A private PostgreSQL server a reliability test may restart (test/support/chaos.ts). */
import { execFile } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { sleep } from './util';

const execFileP = promisify(execFile);

// ------------------------------------------------------------------ private PostgreSQL

export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolvePort(port));
    });
  });
}

function pgBinDir(): string {
  if (process.env.ATTUNE_TEST_PG_BIN) return process.env.ATTUNE_TEST_PG_BIN;
  const base = '/usr/lib/postgresql';
  const versions = existsSync(base) ? readdirSync(base).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a)) : [];
  for (const v of versions) if (existsSync(join(base, v, 'bin', 'initdb'))) return join(base, v, 'bin');
  throw new Error('PostgreSQL server binaries not found under /usr/lib/postgresql/<version>/bin (apt-get install postgresql), or set ATTUNE_TEST_PG_BIN');
}

/**
 * A PostgreSQL server of our own (initdb into a temp dir, trust auth, loopback + a private
 * socket dir, random free port): the only server a reliability test ever restarts. initdb
 * refuses to run as root, so as root everything runs as the `postgres` user.
 */
export class PrivatePostgres {
  restarts = 0;
  private constructor(
    readonly dir: string,
    readonly port: number,
    private readonly bin: string,
  ) {}

  static async start(): Promise<PrivatePostgres> {
    const bin = pgBinDir();
    const dir = mkdtempSync(join(tmpdir(), 'attune-chaos-pg-'));
    const asRoot = process.getuid?.() === 0;
    if (asRoot) chownSync(dir, pgUid(), pgGid());
    const port = await freePort();
    const pgs = new PrivatePostgres(dir, port, bin);
    await pgs.run('initdb', ['-D', pgs.dataDir, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8']);
    await pgs.pgStart();
    return pgs;
  }

  get dataDir(): string {
    return join(this.dir, 'data');
  }

  /** URL of database `db` on this server. */
  url(db = 'postgres', password?: string): string {
    return `postgresql://postgres${password ? `:${encodeURIComponent(password)}` : ''}@127.0.0.1:${this.port}/${db}`;
  }

  /** `pg_ctl stop -m fast` (active transactions are aborted, clients disconnected), `downMs` of outage, start again. */
  async restart(downMs = 0): Promise<void> {
    await this.run('pg_ctl', ['-D', this.dataDir, '-w', '-t', '60', '-m', 'fast', 'stop']);
    if (downMs > 0) await sleep(downMs);
    await this.pgStart();
    this.restarts++;
  }

  async stop(): Promise<void> {
    if (!existsSync(join(this.dataDir, 'postmaster.pid'))) return;
    await this.run('pg_ctl', ['-D', this.dataDir, '-w', '-t', '60', '-m', 'immediate', 'stop']).catch(() => undefined);
  }

  async destroy(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }

  private async pgStart(): Promise<void> {
    const opts = `-p ${this.port} -c listen_addresses=127.0.0.1 -k ${this.dir} -c fsync=off -c max_connections=200`;
    await this.run('pg_ctl', ['-D', this.dataDir, '-l', join(this.dir, 'server.log'), '-w', '-t', '60', '-o', opts, 'start']);
  }

  private async run(tool: string, args: string[]): Promise<void> {
    const cmd = join(this.bin, tool);
    const [file, argv] = process.getuid?.() === 0 ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args];
    try {
      await execFileP(file, argv, { timeout: 120_000, cwd: this.dir });
    } catch (e) {
      const err = e as Error & { stderr?: string; stdout?: string };
      throw new Error(`${tool} ${args.join(' ')} failed: ${err.stderr || err.stdout || err.message}`, { cause: e });
    }
  }
}

function pgUid(): number {
  return Number(lookupPasswd('postgres')?.uid ?? NaN);
}

function pgGid(): number {
  return Number(lookupPasswd('postgres')?.gid ?? NaN);
}

export function lookupPasswd(name: string): { uid: number; gid: number } | null {
  for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
    const f = line.split(':');
    if (f[0] === name && f.length >= 4) return { uid: Number(f[2]), gid: Number(f[3]) };
  }
  return null;
}
