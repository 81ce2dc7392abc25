/**
 * Child isolation (issue step 8) through the real agent, which runs as root here:
 *   - without worker.run_as_user an action runs as root and CAN read the agent's configuration
 *     secrets from /proc/<agent pid>/environ — the attack this feature closes (shown first, so
 *     the isolated case below is known to test something real);
 *   - with worker.run_as_user=nobody the action runs as uid 65534, still gets its (chowned, 0400)
 *     parameter file, but cannot read /proc/<agent>/environ, finds no agent variable in its own
 *     environment and inherits no descriptor the agent opened (database/broker sockets, logs);
 *   - a non-root agent with worker.run_as_user set refuses to start with a clear message.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, readFileSync, readlinkSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  agentBundle,
  AgentProcess,
  createExecutions,
  createHarness,
  installPack,
  killAll,
  lookupPasswd,
  processesWithEnv,
  randomHex,
  removeAgentBundle,
  waitTerminal,
  type AgentHarness,
  type InstalledPack,
} from '../support/chaos';

const IS_ROOT = process.getuid?.() === 0;
const DB_CANARY = `CANARY-ISOLATION-DBPW-${randomHex(6)}`;
const KEY_CANARY = `CANARY-ISOLATION-KEY-${randomHex(8)}-0123456789`;

let h: AgentHarness;
let pack: InstalledPack;
const packRef = `isolation_${randomHex(4)}`;

const PROBE = `#!/bin/bash
echo "uid=$(id -u) gid=$(id -g) groups=$(id -G)"
echo "param_file=$(cat "$ATTUNE_PARAMETER_FILE" 2>&1)"
if agent_env=$(tr '\\0' '\\n' < /proc/$PPID/environ 2>/dev/null); then
  echo "agent_environ=readable"
  echo "$agent_env" | grep -E '^ATTUNE__(DATABASE__URL|SECURITY__ENCRYPTION_KEY)='
else
  echo "agent_environ=denied"
fi
echo "own_agent_vars=$(env | grep -c '^ATTUNE__')"
echo "fds=$(ls /proc/self/fd | sort -n | tr '\\n' ' ')"
for f in /proc/self/fd/*; do echo "fd $f -> $(readlink $f)"; done
`;

beforeAll(async () => {
  h = await createHarness({ agent: { maxConcurrentTasks: 2 } });
  // An unprivileged action user must be able to reach the pack (mkdtemp dirs are 0700).
  chmodSync(h.ws.dir, 0o755);
  pack = await installPack(h.db.pool, h.ws.packsDir, {
    ref: packRef,
    files: { 'actions/probe.sh': PROBE },
    actions: [{ name: 'probe', entrypoint: 'probe.sh', parameterDelivery: 'file', timeoutSec: 30 }],
  });
  // As a pack volume is mounted in production: world-readable (the copied temp source was 0700).
  execFileSync('chmod', ['-R', 'a+rX', h.ws.packsDir]);
}, 120_000);

afterAll(async () => {
  killAll(processesWithEnv(`ATTUNE_PACK_REF=${packRef}`));
  await h?.dispose();
  removeAgentBundle();
}, 60_000);

async function probe(): Promise<string> {
  const [c] = await createExecutions(h.db.pool, pack, h.workerId as number, [{ action: 'probe', parameters: { hello: 'world' } }]);
  const id = (c as { id: number }).id;
  await h.dispatcher.dispatch(id, h.workerId as number, pack, `${packRef}.probe`);
  const row = (await waitTerminal(h.db.pool, [id], 30_000)).get(id);
  expect(row?.status, JSON.stringify(row?.result)).toBe('completed');
  return String(row?.result?.stdout ?? '');
}

function withPassword(url: string, password: string): string {
  const u = new URL(url);
  u.password = password;
  return u.toString();
}

describe.skipIf(!IS_ROOT)('actions cannot read the agent secrets when worker.run_as_user is set', () => {
  it('without run_as_user (actions as root) the agent environ IS readable: the attack is real', async () => {
    const agent = await h.startAgent({ databaseUrl: withPassword(h.db.url, DB_CANARY), encryptionKey: KEY_CANARY });
    const out = await probe();
    console.log(`[isolation] as root:\n${out.replace(DB_CANARY, '<db canary>').replace(KEY_CANARY, '<key canary>')}`);
    expect(out).toContain('uid=0 ');
    expect(out).toContain('agent_environ=readable');
    expect(out).toContain(DB_CANARY);
    agent.kill('SIGTERM');
    expect(await agent.waitExit(30_000)).toEqual({ code: 0, signal: null });
  });

  it('with run_as_user=nobody: uid 65534, own parameter file readable, agent environ denied, no agent variable, no descriptor opened by the agent', async () => {
    const nobody = lookupPasswd('nobody');
    expect(nobody).not.toBeNull();
    const agent = await h.startAgent({
      databaseUrl: withPassword(h.db.url, DB_CANARY),
      encryptionKey: KEY_CANARY,
      env: { ATTUNE__WORKER__RUN_AS_USER: 'nobody' },
    });
    const out = await probe();
    console.log(`[isolation] as nobody:\n${out}`);
    expect(out).toContain(`uid=${nobody?.uid} gid=${nobody?.gid} groups=${nobody?.gid}`);
    expect(out).toContain('param_file={"hello":"world"}');
    expect(out).toContain('agent_environ=denied');
    expect(out).toContain('own_agent_vars=0');
    // Descriptors beyond 0-2: ls's own directory handle (3), bash's script handle (255), and
    // whatever the agent itself inherited from its parent (here: the test runner's pipes).
    // None may be one the agent opened (database/broker sockets, log files).
    const extra = [...out.matchAll(/^fd \/proc\/self\/fd\/(\d+) -> (.*)$/gm)]
      .filter((m) => !['0', '1', '2', '3', '255'].includes(m[1] as string))
      .map((m) => m[2] as string);
    const inheritedFromOutside = new Set(readdirSync('/proc/self/fd').map((fd) => { try { return readlinkSync(`/proc/self/fd/${fd}`); } catch { return ''; } }));
    console.log(`[isolation] extra descriptors in the action: ${JSON.stringify(extra)} (all inherited by the agent from the test runner: ${extra.every((t) => inheritedFromOutside.has(t))})`);
    expect(extra.filter((t) => !inheritedFromOutside.has(t))).toEqual([]);
    expect(out).not.toContain(DB_CANARY);
    expect(out).not.toContain(KEY_CANARY);
    agent.kill('SIGTERM');
    expect(await agent.waitExit(30_000)).toEqual({ code: 0, signal: null });
  });

  it('a non-root agent with run_as_user set refuses to start and says why', async () => {
    const bundle = await agentBundle();
    chmodSync(dirname(bundle), 0o755);
    const nobody = lookupPasswd('nobody') as { uid: number; gid: number };
    const logFile = join(h.ws.dir, 'nonroot.log');
    const agent = new AgentProcess(
      bundle,
      {
        name: `isolation-nonroot-${randomHex(3)}`,
        databaseUrl: h.db.url,
        amqpUrl: h.amqpUrl,
        packsDir: h.ws.packsDir,
        artifactsDir: join(h.ws.dir, 'nonroot-artifacts'),
        runtimeEnvsDir: h.ws.runtimeEnvsDir,
        cwd: h.ws.dir,
        env: { ATTUNE__WORKER__RUN_AS_USER: 'daemon', HOME: '/tmp' },
        spawnAs: nobody,
      },
      logFile,
    );
    const exit = await agent.waitExit(30_000);
    await agent.closeLog();
    const text = readFileSync(logFile, 'utf8');
    console.log(`[isolation] non-root start-up: exit ${exit.code}\n${text.trim().split('\n').slice(-3).join('\n')}`);
    expect(exit.code).not.toBe(0);
    expect(text).toContain('worker.run_as_user');
    expect(text).toContain(`the agent runs as uid ${nobody.uid}, not root`);
  });
});
