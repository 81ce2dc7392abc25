/**
 * The chart's `storage.mode: object` pod (issue 15), run as pod-flow.test.ts runs the
 * sharedVolume one: `helm template` renders it; its containers run as podflow containers with
 * the restricted securityContext. No shared volume at all: packs, runtime envs and artifacts are
 * the pod's own emptyDirs (empty at start), there is no wait-for-packs; the worker pulls the
 * pinned pack releases from the fake Attune API (`attune.apiUrl`) and sends its log streams
 * back as segments, which the fake commits and seals in PostgreSQL as upstream's API does.
 * Needs root (unshare, mount, chroot).
 */
/* eslint-disable @typescript-eslint/no-explicit-any */
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { ControlPlane as ControlPlaneImpl } from '../../../scripts/lib/control-plane.mjs';
import { DEMO_PACK_DIR, TEST_ENCRYPTION_KEY, TEST_JWT_SECRET, type ControlPlane } from '../../support/agent';
import { createTestVhost, unusedPort, type TestVhost } from '../../support/amqp';
import { createTestDatabase, type TestDatabase } from '../../support/db';
import { startFakeApi, type FakeApi } from '../../support/fake-api';
import { addRelease, createPackReleaseApiState, createPackReleaseArchiveHandler, type PackReleaseApiState } from '../../support/fake-api-pack-releases';
import { renderPod, type RenderedPod } from '../../support/helm-pod';
import { byStream, logRows } from '../../support/log-streams';
import { buildTarGz, sha256Hex, treeEntries } from '../../support/pack-archive';
import { runContainer, startContainer, type Container, type ContainerSpec } from '../../support/podflow';
import { ensureRootfs } from '../../support/rootfs';
import { REPO_ROOT, ensureSeaBuilt, type SeaBuild } from '../../support/sea';

const POD_CHECK_PACK = join(REPO_ROOT, 'test', 'fixtures', 'packs', 'pod-check');
type ControlPlaneCtor = new (opts: { databaseUrl: string; amqpUrl: string; packsDir: string; encryptionKey?: string }) => { connect(): Promise<ControlPlane> };

describe('Helm pod flow, storage.mode object: no shared volume, packs and logs through the Attune API', () => {
  let build: SeaBuild;
  let agentInitBase: string;
  let userImage: string;
  let db: TestDatabase;
  let vhost: TestVhost;
  let cp: ControlPlane | undefined;
  let api: FakeApi;
  let releases: PackReleaseApiState;
  let work: string;
  let rendered: RenderedPod;
  const digests: Record<string, string> = {};
  const containers: Container[] = [];

  beforeAll(async () => {
    build = await ensureSeaBuilt('x64');
    agentInitBase = await ensureRootfs('busybox');
    userImage = await ensureRootfs('debian');
    db = await createTestDatabase();
    vhost = await createTestVhost();
    work = mkdtempSync(join(tmpdir(), 'attune-podflow-object-'));
    chmodSync(work, 0o755);
    api = await startFakeApi({ jwtSecret: TEST_JWT_SECRET, databaseUrl: db.url });
    releases = createPackReleaseApiState(TEST_JWT_SECRET);
    api.mount(createPackReleaseArchiveHandler(releases));

    // The control plane registers the packs (rows, pinned releases) in a directory the pod never
    // sees; the API stores each release as a `<pack_ref>/…` archive with that digest.
    cp = await new (ControlPlaneImpl as unknown as ControlPlaneCtor)({ databaseUrl: db.url, amqpUrl: vhost.url, packsDir: join(work, 'control-plane-packs'), encryptionKey: TEST_ENCRYPTION_KEY }).connect();
    for (const [dir, ref] of [[DEMO_PACK_DIR, 'demo_test'], [POD_CHECK_PACK, 'pod_check']] as const) {
      const installed = (await cp.installPack(dir)) as { releaseId: number };
      const bytes = buildTarGz(treeEntries(dir, ref));
      digests[ref] = sha256Hex(bytes);
      await cp.query('UPDATE pack_release SET digest = $2, archive_size = $3 WHERE id = $1', [installed.releaseId, digests[ref], bytes.length]);
      addRelease(releases, installed.releaseId, bytes);
    }

    rendered = renderPod(
      {
        storage: { mode: 'object' },
        attune: { apiUrl: api.url },
        agent: { waitTimeoutSeconds: 60, healthPort: await unusedPort() },
        actionWorkers: [{ name: 'bookworm', image: 'debian:bookworm-slim', runtimes: ['shell', 'python'] }],
      },
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
  });

  afterAll(async () => {
    for (const c of containers) c.kill();
    await Promise.all(containers.map((c) => Promise.race([c.exited, new Promise((r) => setTimeout(r, 5000))])));
    await cp?.close().catch(() => undefined);
    await api?.close();
    await vhost?.delete().catch(() => undefined);
    await db?.drop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  const agentInit = (name: string): ContainerSpec => rendered.container(name, agentInitBase, [{ source: build.dir, mountPath: '/opt/attune/agent', readOnly: true }]);

  it('renders no claims, emptyDir caches and staging, both transports api, and no wait-for-packs', () => {
    const { pod, configYaml } = rendered;
    expect(pod.initContainers.map((c: any) => c.name)).toEqual(['agent-loader', 'wait-for-schema']);
    expect(pod.volumes.filter((v: any) => v.persistentVolumeClaim)).toEqual([]);
    for (const name of ['packs', 'runtime-envs', 'artifacts']) expect(pod.volumes.find((v: any) => v.name === name)?.emptyDir, name).toBeDefined();
    expect(parseYaml(configYaml)).toMatchObject({ packs: { transport: 'api' }, artifacts: { transport: 'api', log_segment_max_bytes: 65536, flush_interval_ms: 500 } });
    expect(rendered.container('worker', userImage).env).toMatchObject({ ATTUNE_API_URL: api.url });
  });

  it('agent-loader installs the bundle, wait-for-schema passes on the ready schema', async () => {
    for (const name of ['agent-loader', 'wait-for-schema']) {
      const { exit, container } = await runContainer(agentInit(name), 120_000);
      expect(exit, container.tail()).toEqual({ code: 0, signal: null });
    }
  });

  let worker: Container | undefined;
  let workerId = 0;

  it('worker: starts on empty volumes, pulls the pinned releases from the API into its packs emptyDir', async () => {
    expect(readdirSync(rendered.vol.packs!)).toEqual([]);
    worker = startContainer(rendered.container('worker', userImage));
    containers.push(worker);
    const ready = await worker.waitForLine((l) => l.json?.msg === 'attune-agent ready: consuming executions', 60_000);
    workerId = Number(ready.json!.workerId);
    // The start-up sync runs beside the consumer; its summary line comes once every release is
    // unpacked and marked ready (an answered download alone was checked before the unpacking
    // finished, and the first archive also loads node-tar now).
    const synced = await worker.waitForLine((l) => l.json?.msg === 'start-up pack sync finished', 30_000);
    expect(synced.json).toMatchObject({ synced: 2, alreadyLocal: 0, errors: 0 });
    expect(releases.requests.filter((r) => r.status === 200).length).toBeGreaterThanOrEqual(2);
    for (const ref of ['demo_test', 'pod_check']) {
      const dir = join(rendered.vol.packs!, '.releases', 'sha256', digests[ref]!);
      expect(readFileSync(join(dir, '.attune-release-ready'), 'utf8').trim()).toBe(digests[ref]);
      expect(existsSync(join(dir, 'pack', 'pack.yaml'))).toBe(true);
    }
    expect(releases.requests.every((r) => r.claims?.token_type === 'worker')).toBe(true);
  });

  it('worker: runs actions from the downloaded releases; logs go to the API as segments and are sealed, nothing on the staging volume', async () => {
    const run = async (actionRef: string, parameters: Record<string, unknown>): Promise<{ id: number; row: Record<string, any> }> => {
      const ex = await cp!.createExecution({ actionRef, workerId, parameters });
      await cp!.dispatch(ex, workerId);
      await cp!.waitForCompletions([ex.id], 60_000);
      const row = (await cp!.getExecution(ex.id))!;
      expect(row.status, JSON.stringify(row.result)).toBe('completed');
      return { id: ex.id, row };
    };
    const who = await run('pod_check.whoami', { marker: 'm-43' });
    expect(who.row.result.data).toMatchObject({ uid: 1000, gid: 1000, root_writable: false });

    const py = await run('demo_test.py_json', { name: 'pod', count: 1 });
    expect(py.row.result).toMatchObject({ succeeded: true, exit_code: 0, data: { greeting: 'hello pod', count: 1 } });
    expect(py.row.result).not.toHaveProperty('logs_incomplete');
    const { stdout, stderr } = byStream(await logRows(cp!, py.id));
    expect(stderr).toMatchObject({ backend: 'object_segments', sealed: true, body_state: 'ready', size_bytes: String('starting\n'.length), max_unflushed_bytes: '65536' });
    expect(stdout).toMatchObject({ backend: 'object_segments', sealed: true, body_state: 'ready' });
    const seg = await cp!.query('SELECT id FROM log_stream WHERE artifact_version = $1', [stderr.version_id]);
    expect(api.segmentBytes(seg.rows[0]!.id as string).toString()).toBe('starting\n');
    expect(api.requestsTo(/\/segments\/\d+$/).every((r) => r.claims?.metadata.worker_id === String(workerId))).toBe(true);
    // The staging emptyDir holds no log file: result.json of executions without secrets, and the
    // agent's completion journal (.attune-agent, kept there because the emptyDir survives a
    // container restart).
    const staged = readdirSync(rendered.vol.artifacts!).filter((n) => n !== '.attune-agent');
    expect(staged.every((n) => /^execution_\d+$/.test(n)), staged.join(',')).toBe(true);
  });

  it('worker: SIGTERM to PID 1 drains and exits 0', async () => {
    await worker!.signal('SIGTERM');
    const exit = await worker!.exited;
    expect(exit, worker!.tail()).toEqual({ code: 0, signal: null });
  });
});
