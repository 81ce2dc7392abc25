/**
 * The single executable as PID 1 of a container made from the busybox root (no libc, no init;
 * test/support/podflow.ts: own PID namespace, the bundle mounted read-only at /opt/attune/agent):
 * it re-executes under the bundle's static tini with process.execve (the SEA's Node 24), so the
 * orphans its actions leave — a double fork, `setsid … &`, `nohup … &` under busybox sh — are
 * reaped; SIGTERM still reaches the agent through tini and drains it (issue 17).
 *
 * Size: ATTUNE_SEA_PID1_EXECUTIONS (default 200) at max_concurrent_tasks 8. Needs root.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_ENCRYPTION_KEY, TEST_JWT_SECRET, createAgentTestEnv, pollUntil, type AgentTestEnv } from '../../support/agent';
import { createExecutionCopies, dispatchAndWait } from '../../support/bulk-executions';
import { startContainer, type Container } from '../../support/podflow';
import { descendants, zombiesOf, type ProcEntry } from '../../support/proc-tree';
import { ensureRootfs } from '../../support/rootfs';
import { CONTAINER_PATH, INSTALL_DIR, ensureSeaBuilt, type SeaBuild } from '../../support/sea';

const COUNT = Number(process.env.ATTUNE_SEA_PID1_EXECUTIONS ?? 200);
const ACTION = 'e2e_sea_pid1.orphans';

let build: SeaBuild;
let env: AgentTestEnv;
let work: string;
let rootDir: string;
const containers: Container[] = [];

beforeAll(async () => {
  build = await ensureSeaBuilt('x64');
  rootDir = await ensureRootfs('busybox');
  env = await createAgentTestEnv();
  work = mkdtempSync(join(tmpdir(), 'attune-sea-pid1-'));
  const pack = join(work, 'pack');
  mkdirSync(join(pack, 'actions'), { recursive: true });
  writeFileSync(join(pack, 'pack.yaml'), 'ref: e2e_sea_pid1\nlabel: "SEA PID 1"\nversion: "1.0.0"\n');
  // runner_type shell: core.shell wants /bin/bash; the agent falls back to the root's /bin/sh.
  writeFileSync(join(pack, 'actions', 'orphans.yaml'), `ref: ${ACTION}\nrunner_type: shell\nentry_point: orphans.sh\nparameter_delivery: stdin\nparameter_format: json\noutput_format: text\n`);
  writeFileSync(
    join(pack, 'actions', 'orphans.sh'),
    ['( sleep 0.2 >/dev/null 2>&1 & )', '( setsid sleep 0.3 >/dev/null 2>&1 & )', 'nohup sleep 30 >/dev/null 2>&1 &', 'echo ok', ''].join('\n'),
  );
  await env.cp.installPack(pack);
});

afterAll(async () => {
  for (const c of containers) c.kill();
  await Promise.all(containers.map((c) => Promise.race([c.exited, new Promise((r) => setTimeout(r, 5000))])));
  await env?.cleanup();
  if (work) rmSync(work, { recursive: true, force: true });
});

const isInitOrAgent = (p: ProcEntry): boolean => p.comm === 'tini' || p.args.startsWith(`${INSTALL_DIR}/attune-agent`);

describe('SEA in the busybox root as PID 1', () => {
  it(`reaps every orphan of ${COUNT} double-forking, setsid and nohup executions and still drains on SIGTERM`, async () => {
    const name = env.uniqueName('sea-pid1');
    const artifacts = join(work, 'artifacts');
    mkdirSync(artifacts, { recursive: true });
    const c = startContainer({
      name,
      image: rootDir,
      workDir: work,
      hostname: name,
      command: [`${INSTALL_DIR}/attune-agent`, 'run'],
      volumes: [
        { source: build.dir, mountPath: INSTALL_DIR, readOnly: true },
        { source: env.packsDir, mountPath: '/opt/attune/packs', readOnly: true },
        { source: artifacts, mountPath: '/opt/attune/artifacts' },
      ],
      env: {
        PATH: CONTAINER_PATH,
        HOME: '/root',
        ATTUNE_WORKER_NAME: name,
        ATTUNE__DATABASE__URL: env.db.url,
        ATTUNE__MESSAGE_QUEUE__URL: env.vhost.url,
        ATTUNE__SECURITY__JWT_SECRET: TEST_JWT_SECRET,
        ATTUNE__SECURITY__ENCRYPTION_KEY: TEST_ENCRYPTION_KEY,
        ATTUNE__PACKS_BASE_DIR: '/opt/attune/packs',
        ATTUNE__ARTIFACTS_DIR: '/opt/attune/artifacts',
        ATTUNE__RUNTIME_ENVS_DIR: '/tmp/runtime_envs',
        ATTUNE__PACKS__TRANSPORT: 'volume',
        ATTUNE__ARTIFACTS__TRANSPORT: 'volume',
        ATTUNE__WORKER__MAX_CONCURRENT_TASKS: '8',
        ATTUNE__WORKER__SHUTDOWN_TIMEOUT: '5',
      },
    });
    containers.push(c);
    const ready = await c.waitForLine((l) => l.json?.msg === 'attune-agent ready: consuming executions', 60_000);
    const workerId = Number(ready.json!.workerId);
    // The SEA's Node 24 has process.execve: PID 1 became the bundled tini, the agent its child.
    expect(c.lines.filter((l) => l.json?.msg?.toString().startsWith('running as PID 1: re-executing under tini'))).toHaveLength(1);
    expect(c.lines.find((l) => l.json?.msg === 'running under tini as PID 1: orphaned processes are reaped')?.json).toMatchObject({ init: `${INSTALL_DIR}/lib/tini` });
    const pid1 = await c.pid1();
    const host = (): ProcEntry[] => [{ pid: pid1, ppid: 0, state: 'S', comm: 'tini', args: '' }, ...descendants(pid1)];

    const started = Date.now();
    const exs = await createExecutionCopies(env.cp, ACTION, workerId, COUNT);
    let maxZombies = 0;
    await dispatchAndWait(env.cp, exs, workerId, 60_000 + COUNT * 300, () => {
      maxZombies = Math.max(maxZombies, zombiesOf(descendants(pid1)).length);
    });
    const r = await env.cp.query(`SELECT status, count(*)::int AS n FROM execution WHERE id = ANY($1) GROUP BY status`, [exs.map((x) => x.id)]);
    expect(r.rows, c.tail()).toEqual([{ status: 'completed', n: COUNT }]);

    const left = await pollUntil(() => {
      const rest = descendants(pid1).filter((p) => !isInitOrAgent(p));
      return rest.length === 0 && rest;
    }, 5_000, 'no process but tini and the agent').catch(() => descendants(pid1).filter((p) => !isInitOrAgent(p)));
    const zombies = zombiesOf(descendants(pid1));
    console.log(
      `[sea-pid1] busybox root: ${COUNT} executions in ${((Date.now() - started) / 1000).toFixed(1)} s; max zombies while running ${maxZombies}, ` +
        `zombies after ${zombies.length}, stray processes ${left.length}`,
    );
    expect(zombies.map((z) => `${z.pid} ${z.comm}`)).toEqual([]);
    expect(left.map((p) => `${p.pid} ${p.state} ${p.args || p.comm}`)).toEqual([]);
    expect(host().filter(isInitOrAgent)).toHaveLength(2);

    await c.signal('SIGTERM');
    expect(await c.exited, c.tail()).toEqual({ code: 0, signal: null });
    expect(c.lines.filter((l) => l.json?.msg?.toString().startsWith('shutdown requested'))).toHaveLength(1);
    expect((await env.cp.getWorkerByName(name))?.status).toBe('inactive');
  });
});
