// What the benchmark starts and stops around the agent: its own PostgreSQL database (development
// schema via scripts/apply-schema.mjs, random name), its own RabbitMQ vhost (rabbitmqctl), the
// Debian packages of the baselines, and the mount namespace in which the single executable can
// run from /opt/attune/agent (its ELF interpreter and RPATH point there; the host's /opt is
// never touched).
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { applySchema } from '../../apply-schema.mjs';
import { progress, suffix } from './util.mjs';

export const SEA_INSTALL_DIR = '/opt/attune/agent';
const NS_MARK = 'ATTUNE_BENCH_SEA_NS';

export function pgBaseUrl(env = process.env) {
  return env.ATTUNE_BENCH_PG_URL ?? 'postgresql://postgres@127.0.0.1:5432';
}

export function amqpBaseUrl(env = process.env) {
  return env.ATTUNE_BENCH_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
}

function run(cmd, args, { allowFail = false } = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 120_000 });
  if (!allowFail && r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr || r.stdout || r.error?.message}`);
  return r;
}

/** apt-get the baselines' packages when missing (scripts/bench/install-deps.sh). */
export function installDeps(root) {
  const r = spawnSync('sh', [join(root, 'scripts', 'bench', 'install-deps.sh')], { stdio: ['ignore', 'inherit', 'inherit'], timeout: 600_000 });
  if (r.status !== 0) throw new Error('scripts/bench/install-deps.sh failed (amqp-tools, python3-celery, time are needed for the baselines)');
}

// ------------------------------------------------------------------------------------ RabbitMQ

export function createVhost() {
  const vhost = `attune-bench-${suffix()}`;
  run('rabbitmqctl', ['-q', 'add_vhost', vhost]);
  run('rabbitmqctl', ['-q', 'set_permissions', '-p', vhost, 'guest', '.*', '.*', '.*']);
  return vhost;
}

export function deleteVhost(vhost) {
  run('rabbitmqctl', ['-q', 'delete_vhost', vhost], { allowFail: true });
}

export function vhostUrl(vhost, env = process.env) {
  return `${amqpBaseUrl(env)}/${encodeURIComponent(vhost)}`;
}

// ------------------------------------------------------------------------------------ PostgreSQL

export async function createDatabase(env = process.env) {
  const name = `attune_bench_${suffix()}`;
  const url = `${pgBaseUrl(env)}/${name}`;
  await applySchema({ url });
  return { name, url };
}

export async function dropDatabase(name, env = process.env) {
  const client = new pg.Client({ connectionString: `${pgBaseUrl(env)}/postgres` });
  client.on('error', () => {});
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  } finally {
    await client.end();
  }
}

// ------------------------------------------------------------------------------------ SEA namespace

export function seaBinary(root) {
  return join(root, 'dist', `agent-linux-${process.arch}`, 'attune-agent');
}

export const inSeaNamespace = () => process.env[NS_MARK] === '1';

/**
 * When the single executable exists and this process is not yet inside its mount namespace,
 * re-run the benchmark inside a private one (root + unshare needed), forwarding SIGINT/SIGTERM
 * so that the inner run can clean up. Resolves `{ code }` with the inner run's exit code, or
 * `{ code: null, note }` when the benchmark should go on here (no SEA, or no namespace possible).
 */
export async function reexecInSeaNamespace(root, argv) {
  if (inSeaNamespace()) return { code: null, note: null };
  if (!existsSync(seaBinary(root))) return { code: null, note: `no single executable at ${seaBinary(root)}` };
  const probe = spawnSync('unshare', ['--mount', '--propagation', 'private', 'true'], { encoding: 'utf8' });
  if (probe.status !== 0) return { code: null, note: `cannot create a mount namespace (${(probe.stderr || probe.error?.message || '').trim()}); root is needed to run the SEA from ${SEA_INSTALL_DIR}` };
  const child = spawn('unshare', ['--mount', '--propagation', 'private', process.execPath, ...argv], {
    stdio: 'inherit',
    env: { ...process.env, [NS_MARK]: '1' },
  });
  const forward = (sig) => child.kill(sig);
  process.on('SIGINT', forward);
  process.on('SIGTERM', forward);
  const code = await new Promise((resolve) => {
    child.once('error', () => resolve(1));
    child.once('exit', (c, sig) => resolve(c ?? (sig === 'SIGINT' ? 130 : 1)));
  });
  process.off('SIGINT', forward);
  process.off('SIGTERM', forward);
  return { code, note: null };
}

/**
 * Inside the namespace: a private copy of dist/agent-linux-<arch>/ (a concurrent `npm run
 * build:sea` replaces that directory, which would pull the binary from under a bind mount),
 * tmpfs over /opt, the copy bind-mounted read-only at /opt/attune/agent. Returns the binary's
 * path and the copy (to remove at the end).
 */
/**
 * Files under src/ (and package.json) changed after the single executable was built: the bench
 * would measure old code. Returns the newest such path, or null.
 */
export function seaStaleBecause(root) {
  const bin = join(root, 'dist', `agent-linux-${process.arch}`, 'attune-agent');
  let built;
  try {
    built = statSync(bin).mtimeMs;
  } catch {
    return null;
  }
  let newest = null;
  const visit = (p) => {
    const st = statSync(p);
    if (st.isDirectory()) for (const name of readdirSync(p)) visit(join(p, name));
    else if (st.mtimeMs > built && (newest === null || st.mtimeMs > newest.mtimeMs)) newest = { path: p, mtimeMs: st.mtimeMs };
  };
  visit(join(root, 'src'));
  for (const f of ['package.json', 'sea-config.json', 'scripts/build.mjs', 'scripts/lib/pg-node-stream.cjs', 'scripts/lib/prom-client-unused.cjs']) visit(join(root, f));
  return newest ? newest.path.slice(root.length + 1) : null;
}

export function mountSea(root) {
  const dist = join(root, 'dist', `agent-linux-${process.arch}`);
  const copy = mkdtempSync(join(tmpdir(), 'attune-bench-sea-'));
  cpSync(dist, copy, { recursive: true });
  run('mount', ['-t', 'tmpfs', '-o', 'mode=0755', 'attune-bench-opt', '/opt']);
  run('mkdir', ['-p', SEA_INSTALL_DIR]);
  run('mount', ['--bind', copy, SEA_INSTALL_DIR]);
  run('mount', ['-o', 'remount,bind,ro', SEA_INSTALL_DIR]);
  const bin = join(SEA_INSTALL_DIR, 'attune-agent');
  const check = spawnSync(bin, ['--version'], { encoding: 'utf8' });
  if (check.status !== 0) throw new Error(`the SEA does not start from ${SEA_INSTALL_DIR}: ${check.stderr || check.error?.message}`);
  progress(`single executable copied to ${copy}, mounted at ${SEA_INSTALL_DIR} (${check.stdout.trim()})`);
  return { bin, copy };
}
