/**
 * The pod of docker/helm/attune-agent-workers, for real but without Kubernetes: `helm template`
 * (real helm v4) renders the chart, and the rendered pod's containers run one after the other
 * as containers of test/support/podflow.ts (overlay of a cached root filesystem, own
 * mount/PID/UTS namespaces, host network, volumes bind-mounted), exactly as rendered: command and
 * args, env (value / secretKeyRef / fieldRef), volumeMounts (subPath, readOnly), and the
 * restricted securityContext — runAsUser/runAsGroup 1000 with the pod's fsGroup as supplementary
 * group, no capabilities, no_new_privs, read-only root filesystem; volumes get the fsGroup
 * ownership the kubelet gives them.
 *
 *   1. agent-loader     agent-init image (busybox + the bundle at images.agent.bundleDir) copies
 *                       the bundle into the agent-bin emptyDir, as uid 1000;
 *   2. wait-for-schema  waits on a fresh empty database until the test applies the schema;
 *   3. wait-for-packs   waits until <packs>/core/pack.yaml appears;
 *   4. worker           a different "user image" (the Debian root) runs the installed agent as
 *                       PID 1 and uid 1000: registers, runs actions (temp parameter file, HOME,
 *                       artifacts), answers the probes, stops cleanly on SIGTERM.
 *
 * Values overridden as an operator would: agent.waitTimeoutSeconds 60, agent.healthPort a free
 * port (pods here share the host network), one pool whose image is the Debian root. Not
 * reproduced: resources, probe timing, seccomp, /etc/hosts, the service-account token.
 * Needs root (unshare, mount, chroot).
 */
/* eslint-disable @typescript-eslint/no-explicit-any */
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { applySchema } from '../../../scripts/apply-schema.mjs';
import { ControlPlane as ControlPlaneImpl } from '../../../scripts/lib/control-plane.mjs';
import { DEMO_PACK_DIR, TEST_ENCRYPTION_KEY, TEST_JWT_SECRET, pollUntil, type ControlPlane } from '../../support/agent';
import { createTestVhost, unusedPort, type TestVhost } from '../../support/amqp';
import { createTestDatabase, type TestDatabase } from '../../support/db';
import { renderPod, type RenderedPod } from '../../support/helm-pod';
import { runContainer, startContainer, type Container, type ContainerSpec } from '../../support/podflow';
import { ensureRootfs } from '../../support/rootfs';
import { REPO_ROOT, ensureSeaBuilt, type SeaBuild } from '../../support/sea';
import { treeDigest } from './tree-digest';

const POD_CHECK_PACK = join(REPO_ROOT, 'test', 'fixtures', 'packs', 'pod-check');
const POOL_IMAGE = 'debian:bookworm-slim';
type ControlPlaneCtor = new (opts: { databaseUrl: string; amqpUrl: string; packsDir: string; encryptionKey?: string }) => { connect(): Promise<ControlPlane> };

describe('Helm pod flow without Kubernetes, restricted: agent-loader → wait-for-schema → wait-for-packs → worker (uid 1000, read-only root)', () => {
  let build: SeaBuild;
  let agentInitBase: string;
  let userImage: string;
  let db: TestDatabase;
  let vhost: TestVhost;
  let cp: ControlPlane | undefined;
  let work: string;
  let pod: any;
  let configYaml: string;
  let podName: string;
  let healthPort: number;
  /** Host directories backing the pod's volumes, by volume name. */
  let vol: Record<string, string> = {};
  let podContainer: RenderedPod['container'];
  const containers: Container[] = [];

  beforeAll(async () => {
    build = await ensureSeaBuilt('x64');
    agentInitBase = await ensureRootfs('busybox');
    userImage = await ensureRootfs('debian');
    db = await createTestDatabase({ withSchema: false });
    vhost = await createTestVhost();
    work = mkdtempSync(join(tmpdir(), 'attune-podflow-'));
    chmodSync(work, 0o755);
    healthPort = await unusedPort();

    const rendered = renderPod(
      { agent: { waitTimeoutSeconds: 60, healthPort }, actionWorkers: [{ name: 'bookworm', image: POOL_IMAGE, runtimes: ['shell', 'python'] }] },
      {
        workDir: work,
        volumesDir: join(work, 'volumes'),
        secrets: {
          ATTUNE__DATABASE__URL: db.url,
          ATTUNE__MESSAGE_QUEUE__URL: vhost.url,
          ATTUNE__SECURITY__ENCRYPTION_KEY: TEST_ENCRYPTION_KEY,
          ATTUNE__SECURITY__JWT_SECRET: TEST_JWT_SECRET,
        },
      },
    );
    ({ pod, configYaml, podName, vol } = rendered);
    podContainer = rendered.container;
  });

  afterAll(async () => {
    for (const c of containers) c.kill();
    await Promise.all(containers.map((c) => Promise.race([c.exited, new Promise((r) => setTimeout(r, 5000))])));
    await cp?.close().catch(() => undefined);
    await vhost?.delete().catch(() => undefined);
    await db?.drop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  /** The agent-init image: busybox with the bundle at images.agent.bundleDir. */
  const agentInit = (name: string): ContainerSpec => podContainer(name, agentInitBase, [{ source: build.dir, mountPath: '/opt/attune/agent', readOnly: true }]);

  it('renders the restricted pod this test runs: uid/gid 1000, fsGroup 1000, read-only roots, no capabilities', () => {
    expect(pod.initContainers.map((c: any) => c.name)).toEqual(['agent-loader', 'wait-for-schema', 'wait-for-packs']);
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, fsGroup: 1000, seccompProfile: { type: 'RuntimeDefault' } });
    for (const c of [...pod.initContainers, ...pod.containers]) {
      expect(c.securityContext, c.name).toMatchObject({ runAsUser: 1000, runAsGroup: 1000, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
    }
    const worker = podContainer('worker', userImage);
    expect(worker.command).toEqual(['/opt/attune/agent/attune-agent']);
    expect(worker.env).toMatchObject({ ATTUNE_CONFIG: '/opt/attune/config.yaml', ATTUNE_WORKER_NAME: podName, HOME: '/tmp', RUST_LOG: 'info', ATTUNE__DATABASE__MAX_CONNECTIONS: '5' });
    expect(parseYaml(configYaml)).toMatchObject({ packs: { transport: 'volume' }, artifacts: { transport: 'volume' } });
  });

  it('agent-loader: installs the bundle as uid 1000 into the agent-bin emptyDir, again as a no-op on restart', async () => {
    const { exit, container } = await runContainer(agentInit('agent-loader'), 120_000);
    expect(exit, container.tail()).toEqual({ code: 0, signal: null });
    expect(container.stderr()).toContain('install: installed attune-agent from /opt/attune/agent into /agent-bin');
    expect(readdirSync(vol['agent-bin']!).sort()).toEqual(['attune-agent', 'lib']);
    expect(treeDigest(vol['agent-bin']!)).toEqual(treeDigest(build.dir));
    expect(statSync(join(vol['agent-bin']!, 'attune-agent')).uid).toBe(1000);
    const again = await runContainer(agentInit('agent-loader'), 120_000);
    expect(again.exit, again.container.tail()).toEqual({ code: 0, signal: null });
    expect(again.container.stderr()).toMatch(/install: \/agent-bin is up to date \(\d+ files unchanged\)/);
  });

  it('wait-for-schema: waits on the empty database, printing progress, and exits 0 once the schema exists', async () => {
    const started = Date.now();
    const c = startContainer(agentInit('wait-for-schema'));
    containers.push(c);
    await c.waitForLine(/^wait: waiting for the Attune schema in .*: table attune\.identity does not exist yet/, 20_000);
    await new Promise((r) => setTimeout(r, Math.max(0, 2000 - (Date.now() - started))));
    expect(c.isRunning()).toBe(true);
    const applied = await applySchema({ url: db.url });
    expect(applied.applied.length).toBeGreaterThan(0);
    const exit = await c.exited;
    expect(exit, c.tail()).toEqual({ code: 0, signal: null });
    expect(c.lines.some((l) => /^wait: table attune\.identity in .* is ready \(after \d+\.\ds\)$/.test(l.text)), c.tail()).toBe(true);
    expect(c.stderr() + c.stdout()).not.toContain(TEST_ENCRYPTION_KEY);
  });

  it('wait-for-packs: waits until <packs>/core/pack.yaml appears on the packs volume, then exits 0', async () => {
    const c = startContainer(agentInit('wait-for-packs'));
    containers.push(c);
    await c.waitForLine(/^wait: waiting for file \/opt\/attune\/packs\/core\/pack\.yaml: .* does not exist yet/, 20_000);
    expect(c.isRunning()).toBe(true);
    mkdirSync(join(vol.packs!, 'core'), { recursive: true });
    writeFileSync(join(vol.packs!, 'core', 'pack.yaml'), 'ref: core\nlabel: Core\nversion: "1.0.0"\n');
    const exit = await c.exited;
    expect(exit, c.tail()).toEqual({ code: 0, signal: null });
    expect(c.stderr()).toMatch(/^wait: file \/opt\/attune\/packs\/core\/pack\.yaml is ready \(after \d+\.\ds\)$/m);
  });

  let worker: Container | undefined;
  let workerId = 0;

  it('worker: the installed agent runs as PID 1 and uid 1000 with no capabilities, says so at start-up, registers and answers the probes', async () => {
    cp = await new (ControlPlaneImpl as unknown as ControlPlaneCtor)({ databaseUrl: db.url, amqpUrl: vhost.url, packsDir: vol.packs!, encryptionKey: TEST_ENCRYPTION_KEY }).connect();
    await cp.installPack(DEMO_PACK_DIR);
    await cp.installPack(POD_CHECK_PACK);

    worker = startContainer(podContainer('worker', userImage));
    containers.push(worker);
    const ready = await worker.waitForLine((l) => l.json?.msg === 'attune-agent ready: consuming executions', 60_000);
    workerId = Number(ready.json!.workerId);
    expect(worker.lines.find((l) => l.json?.msg === 'attune-agent starting')!.json!.configFiles).toEqual(['/opt/attune/config.yaml']);
    // The start-up check: non-root noted, and nothing it needs is unwritable.
    expect(worker.lines.find((l) => l.json?.check === 'NON_ROOT')?.json?.msg).toMatch(/^running as uid 1000 gid 1000 \(not root\)/);
    expect(worker.lines.filter((l) => typeof l.json?.check === 'string' && l.json.check !== 'NON_ROOT').map((l) => l.text)).toEqual([]);

    const status = readFileSync(`/proc/${await worker.pid1()}/status`, 'utf8');
    expect(/^NSpid:\s+\d+\s+(\d+)$/m.exec(status)?.[1]).toBe('1');
    expect(/^Uid:\s+(\d+)\s+(\d+)/m.exec(status)?.slice(1)).toEqual(['1000', '1000']);
    expect(/^Groups:\s+(.*)$/m.exec(status)?.[1]?.trim()).toBe('1000');
    expect(/^CapEff:\s+(\w+)$/m.exec(status)?.[1]).toBe('0000000000000000');
    expect(/^NoNewPrivs:\s+(\d)$/m.exec(status)?.[1]).toBe('1');

    const row = await cp.getWorkerByName(podName);
    expect(row).toMatchObject({ id: String(workerId), name: podName, worker_type: 'container', status: 'active', host: podName });
    expect(row!.capabilities.runtimes).toEqual(['shell', 'python', 'native']);
    const probe = async (path: string): Promise<number> => (await fetch(`http://127.0.0.1:${healthPort}${path}`)).status;
    await pollUntil(async () => (await probe('/readyz').catch(() => 0)) === 200, 15_000, '/readyz to answer 200');
    expect(await probe('/healthz')).toBe(200);
  });

  it('worker: actions run as uid 1000 with a parameter file in the temp dir, a writable HOME and a read-only root; logs land on the artifacts volume', async () => {
    const run = async (actionRef: string, parameters: Record<string, unknown>): Promise<Record<string, any>> => {
      const ex = await cp!.createExecution({ actionRef, workerId, parameters });
      await cp!.dispatch(ex, workerId);
      await cp!.waitForCompletions([ex.id], 60_000);
      const done = (await cp!.getExecution(ex.id))!;
      expect(done.status, JSON.stringify(done.result)).toBe('completed');
      return done;
    };
    const who = await run('pod_check.whoami', { marker: 'm-42' });
    expect(who.result.data).toMatchObject({ uid: 1000, gid: 1000, groups: '1000', tmp_ok: true, home: '/tmp', home_ok: true, root_writable: false });
    expect(who.result.data.params).toContain('m-42');

    const py = await run('demo_test.py_json', { name: 'pod', count: 1 });
    expect(py.result).toMatchObject({ succeeded: true, exit_code: 0, data: { greeting: 'hello pod', count: 1 } });
    expect(py.result.stderr_log).toMatch(/^\/opt\/attune\/artifacts\//);
    const logFile = join(vol.artifacts!, py.result.stderr_log.slice('/opt/attune/artifacts/'.length));
    expect(readFileSync(logFile, 'utf8')).toBe('starting\n');
    // Written by the agent as uid 1000 into the fsGroup-owned volume.
    expect(statSync(logFile).uid).toBe(1000);
  });

  it('worker: SIGTERM to PID 1 (pod deletion) drains, exits 0 and leaves the worker inactive', async () => {
    expect(worker?.isRunning()).toBe(true);
    const t0 = Date.now();
    await worker!.signal('SIGTERM');
    const exit = await worker!.exited;
    expect(exit, worker!.tail()).toEqual({ code: 0, signal: null });
    expect(Date.now() - t0).toBeLessThan(Number(pod.terminationGracePeriodSeconds) * 1000);
    expect((await cp!.getWorkerByName(podName))?.status).toBe('inactive');
  });
});
