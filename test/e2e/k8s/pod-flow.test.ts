/**
 * The pod of docker/helm/attune-agent-workers, for real but without Kubernetes: the chart's four
 * containers run one after the other, each as a container of test/support/podflow.ts (overlay of
 * a cached root filesystem, own mount/PID/UTS namespaces, host network, volumes bind-mounted),
 * with the commands, environment variables and volume mounts read from the chart's templates:
 *
 *   1. agent-loader     agent-init image (busybox + the bundle at agentImage.bundleDir) copies the
 *                       bundle into the agent-bin emptyDir (a host directory shared by all four);
 *   2. wait-for-schema  agent-init image, agent-bin read-only at /opt/attune/agent: waits on a fresh
 *                       empty database until the test applies the schema;
 *   3. wait-for-packs   same, waits until <packs>/core/pack.yaml appears;
 *   4. worker           a different "user image" (the Debian root) with agent-bin read-only at
 *                       /opt/attune/agent runs `attune-agent run` as PID 1, registers, runs an
 *                       action, answers the probes, and stops cleanly on SIGTERM.
 *
 * The container specs are built from the templates by `chartContainer()` below (a tiny reader of
 * agent-workers.yaml for the default values: command/args, literal env values and volumeMounts),
 * so a change of the chart changes what this test runs. Values overridden as an operator would:
 * agent.waitTimeoutSeconds 60 (the brief's `--timeout 60`), agent.healthPort a free port (the
 * pods here share the host network), one pool whose image is the Debian root.
 * What is not reproduced: secretKeyRef/fieldRef resolution (their values are supplied here),
 * resources, probes' timing, capabilities dropping, /etc/hosts and the service-account token.
 *
 * Needs root (unshare, mount, chroot).
 */
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { applySchema } from '../../../scripts/apply-schema.mjs';
// @ts-ignore -- plain ESM shared with `npm run demo`; typed through ControlPlane from support/agent
import { ControlPlane as ControlPlaneImpl } from '../../../scripts/lib/control-plane.mjs';
import { DEMO_PACK_DIR, TEST_ENCRYPTION_KEY, TEST_JWT_SECRET, pollUntil, type ControlPlane } from '../../support/agent';
import { createTestVhost, unusedPort, type TestVhost } from '../../support/amqp';
import { createTestDatabase, type TestDatabase } from '../../support/db';
import { runContainer, startContainer, type Container, type ContainerSpec, type VolumeMount } from '../../support/podflow';
import { ensureRootfs } from '../../support/rootfs';
import { CONTAINER_PATH, REPO_ROOT, ensureSeaBuilt, type SeaBuild } from '../../support/sea';

const CHART_DIR = join(REPO_ROOT, 'docker', 'helm', 'attune-agent-workers');
const TEMPLATE = readFileSync(join(CHART_DIR, 'templates', 'agent-workers.yaml'), 'utf8');
const HELPERS = readFileSync(join(CHART_DIR, 'templates', '_helpers.tpl'), 'utf8');

type Values = Record<string, any>;

// ------------------------------------------------------------------ reading the chart

/** `$.Values.a.b` → values.a.b */
function valueAt(values: Values, path: string): unknown {
  let v: unknown = values;
  for (const k of path.split('.')) v = (v as Values | undefined)?.[k];
  if (v === undefined) throw new Error(`chart reader: .Values.${path} is not set`);
  return v;
}

/**
 * The template's own variables for the first pool, restated from the top of the `range` in
 * agent-workers.yaml ($grace, $shutdown, $healthPort).
 */
function templateVariables(values: Values): Record<string, unknown> {
  const pool = (values.agentWorkers as Values[])[0]!;
  const grace = Number(pool.stopGracePeriod ?? 45);
  for (const needle of ['$grace := int ($pool.stopGracePeriod | default 45)', '$shutdown := int ($pool.shutdownTimeout | default (max 1 (sub $grace 10)))', '$healthPort := int $.Values.agent.healthPort']) {
    if (!TEMPLATE.includes(needle)) throw new Error(`chart reader: agent-workers.yaml changed (no "${needle}")`);
  }
  return { pool, grace, shutdown: Number(pool.shutdownTimeout ?? Math.max(1, grace - 10)), healthPort: Number(values.agent.healthPort) };
}

/** `$.Values.a.b`, `$pool.a`, `$shutdown` → value */
function operand(ref: string, values: Values): unknown {
  const vars = templateVariables(values);
  let m: RegExpExecArray | null;
  let v: unknown;
  if ((m = /^\$\.Values\.([\w.]+)$/.exec(ref))) v = valueAt(values, m[1]!);
  else if ((m = /^\$pool\.(\w+)$/.exec(ref))) v = (vars.pool as Values)[m[1]!];
  else if ((m = /^\$(\w+)$/.exec(ref)) && m[1]! in vars) v = vars[m[1]!];
  else throw new Error(`chart reader: unsupported operand ${ref}`);
  return v;
}

/**
 * Evaluate the template expressions the containers' command/args/env values use: an operand
 * (`$.Values.x`, `$pool.x`, `$shutdown`…), `printf "<fmt>" <operand>` or `join "<sep>" <operand>`,
 * then the stages `default "<v>"` and `quote`.
 */
function renderExpressions(line: string, values: Values): string {
  return line.replace(/\{\{-?\s*(.*?)\s*-?\}\}/g, (whole, expr: string) => {
    const stages = expr.split('|').map((s) => s.trim());
    const first = stages.shift()!;
    let v: unknown;
    let m: RegExpExecArray | null;
    if ((m = /^printf\s+"([^"]*)"\s+(\S+)$/.exec(first))) v = m[1]!.replace('%s', String(operand(m[2]!, values)));
    else if ((m = /^join\s+"([^"]*)"\s+(\S+)$/.exec(first))) v = (operand(m[2]!, values) as unknown[]).join(m[1]!);
    else v = operand(first, values);
    for (const s of stages) {
      if (s === 'quote') v = JSON.stringify(String(v ?? ''));
      else if ((m = /^default\s+"([^"]*)"$/.exec(s))) v = v === undefined || v === null || v === '' ? m[1]! : v;
      else throw new Error(`chart reader: unsupported pipeline stage ${s} in ${whole}`);
    }
    return String(v);
  });
}

interface ChartContainer {
  /** command + args, rendered. */
  argv: string[];
  /** Variables the container sets: literal values rendered, `null` for valueFrom (supplied by the test). */
  env: Map<string, string | null>;
  volumeMounts: Array<{ name: string; mountPath: string; readOnly: boolean }>;
}

/** The lines of one container item (`- name: <name>` up to the next item at the same indent). */
function containerBlock(name: string): string[] {
  const lines = TEMPLATE.split('\n');
  const start = lines.findIndex((l) => new RegExp(`^\\s*- name: ${name}\\s*$`).test(l));
  if (start < 0) throw new Error(`chart reader: no container ${name} in agent-workers.yaml`);
  const indent = lines[start]!.search(/\S/);
  const block = [lines[start]!];
  for (const l of lines.slice(start + 1)) {
    const i = l.search(/\S/);
    if (i >= 0 && i <= indent && !l.trimStart().startsWith('{{')) break;
    block.push(l);
  }
  return block;
}

/**
 * Read a container of the chart as rendered with `values` (default values plus overrides that
 * keep every `if` around env/volumeMounts true: config.create, mountTmp; envFromAll false).
 */
function chartContainer(name: string, values: Values): ChartContainer {
  const block = containerBlock(name).map((l) => l.replace(/\s+$/, ''));
  const listAfter = (key: string): string[] => {
    const at = block.findIndex((l) => new RegExp(`^\\s*${key}:`).test(l));
    if (at < 0) return [];
    const inline = block[at]!.replace(new RegExp(`^\\s*${key}:\\s*`), '');
    if (inline !== '') return parseYaml(renderExpressions(inline, values)) as string[];
    const items: string[] = [];
    for (const l of block.slice(at + 1)) {
      const m = /^\s*- (.*)$/.exec(l);
      if (!m) break;
      items.push(String(parseYaml(renderExpressions(m[1]!, values))));
    }
    return items;
  };
  const argv = [...listAfter('command'), ...listAfter('args')];

  const env = new Map<string, string | null>();
  const envAt = block.findIndex((l) => /^\s*env:\s*$/.test(l));
  if (envAt >= 0) {
    for (let i = envAt + 1; i < block.length; i++) {
      const l = block[i]!;
      if (/include "attune-agent-workers.commonEnv"/.test(l)) {
        for (const [k, v] of commonEnv(values)) env.set(k, v);
        continue;
      }
      if (/^\s*(ports|resources|readinessProbe|livenessProbe|securityContext|volumeMounts):/.test(l)) break;
      const m = /^\s*- name: (\w+)\s*$/.exec(l);
      if (!m) continue;
      const next = block[i + 1] ?? '';
      const literal = /^\s*value: (.*)$/.exec(next);
      env.set(m[1]!, literal ? String(parseYaml(renderExpressions(literal[1]!, values)) ?? '') : null);
    }
  }

  const volumeMounts: ChartContainer['volumeMounts'] = [];
  const vmAt = block.findIndex((l) => /^\s*volumeMounts:\s*$/.test(l));
  for (let i = vmAt + 1; vmAt >= 0 && i < block.length; i++) {
    const m = /^\s*- name: ([\w-]+)\s*$/.exec(block[i]!);
    if (!m) continue;
    const mountPath = /^\s*mountPath: (\S+)/.exec(block[i + 1] ?? '')?.[1];
    if (!mountPath) throw new Error(`chart reader: volumeMount ${m[1]} of ${name} has no mountPath on the next line`);
    volumeMounts.push({ name: m[1]!, mountPath, readOnly: /^\s*readOnly: true/.test(block[i + 2] ?? '') });
  }
  return { argv, env, volumeMounts };
}

/** `attune-agent-workers.commonEnv` of _helpers.tpl for `values`. */
function commonEnv(values: Values): Map<string, string | null> {
  // Guard: the helper still has the shape this function restates.
  for (const needle of ['- name: ATTUNE_CONFIG', 'value: /opt/attune/config/config.yaml', '- name: ATTUNE__DATABASE__SCHEMA', 'range $var, $key := .Values.attune.secret.keys']) {
    if (!HELPERS.includes(needle)) throw new Error(`chart reader: _helpers.tpl commonEnv changed (no "${needle}")`);
  }
  const env = new Map<string, string | null>();
  if (values.config.create || values.config.existingConfigMap) env.set('ATTUNE_CONFIG', '/opt/attune/config/config.yaml');
  env.set('ATTUNE__DATABASE__SCHEMA', String(values.attune.databaseSchema));
  for (const [k, v] of Object.entries(values.attune.secret.keys as Record<string, string>)) if (v) env.set(k, null);
  return env;
}

function sha256(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

/** Relative path → [sha256, mode] of every regular file under `dir`. */
function treeDigest(dir: string): Map<string, [string, number]> {
  const out = new Map<string, [string, number]>();
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) out.set(relative(dir, p), [sha256(p), statSync(p).mode & 0o7777]);
    }
  };
  walk(dir);
  return out;
}

// ------------------------------------------------------------------ the pod

describe('Helm pod flow without Kubernetes: agent-loader → wait-for-schema → wait-for-packs → worker', () => {
  let build: SeaBuild;
  let agentInitBase: string;
  let userImage: string;
  let db: TestDatabase;
  let vhost: TestVhost;
  let cp: ControlPlane | undefined;
  let work: string;
  let values: Values;
  let podName: string;
  let healthPort: number;
  /** Host directories backing the pod's volumes, by the chart's volume names. */
  const vol: Record<string, string> = {};
  const containers: Container[] = [];

  beforeAll(async () => {
    build = await ensureSeaBuilt('x64');
    agentInitBase = await ensureRootfs('busybox');
    userImage = await ensureRootfs('debian');
    db = await createTestDatabase({ withSchema: false });
    vhost = await createTestVhost();
    work = mkdtempSync(join(tmpdir(), 'attune-podflow-'));
    for (const v of ['agent-bin', 'config', 'packs', 'runtime-envs', 'artifacts', 'tmp']) {
      vol[v] = join(work, 'volumes', v);
      mkdirSync(vol[v]!, { recursive: true });
    }
    chmodSync(vol.tmp!, 0o1777); // the tmp emptyDir stands in for /tmp
    healthPort = await unusedPort();
    const defaults = parseYaml(readFileSync(join(CHART_DIR, 'values.yaml'), 'utf8')) as Values;
    values = structuredClone(defaults);
    values.agent.waitTimeoutSeconds = 60;
    values.agent.healthPort = healthPort;
    values.agentWorkers = [{ name: 'bookworm', image: 'debian:bookworm (the cached Debian root)', runtimes: ['shell', 'python'] }];
    // The conditions chartContainer() assumes (see its comment).
    expect(values.config.create && values.agent.mountTmp && !values.attune.secret.envFromAll).toBe(true);
    // templates/configmap.yaml: config.yaml is `toYaml .Values.config.data`.
    writeFileSync(join(vol.config!, 'config.yaml'), stringifyYaml(values.config.data));
    // A Deployment's pod: <fullname>-agent-worker-<pool>-<replicaset hash>-<suffix>; release "attune".
    podName = `attune-agent-worker-bookworm-${randomBytes(5).toString('hex').slice(0, 9)}-${randomBytes(3).toString('hex').slice(0, 5)}`;
  });

  afterAll(async () => {
    for (const c of containers) c.kill();
    await Promise.all(containers.map((c) => Promise.race([c.exited, new Promise((r) => setTimeout(r, 5000))])));
    await cp?.close().catch(() => undefined);
    await vhost?.delete().catch(() => undefined);
    await db?.drop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  /** What the Secret (secretKeyRef) and the downward API (fieldRef) would supply. */
  function valueFrom(name: string): string {
    const fromSecret: Record<string, string> = {
      ATTUNE__DATABASE__URL: db.url,
      ATTUNE__MESSAGE_QUEUE__URL: vhost.url,
      ATTUNE__SECURITY__ENCRYPTION_KEY: TEST_ENCRYPTION_KEY,
      ATTUNE__SECURITY__JWT_SECRET: TEST_JWT_SECRET,
      ATTUNE_WORKER_NAME: podName, // fieldRef metadata.name
    };
    const v = fromSecret[name];
    if (v === undefined) throw new Error(`the chart sets ${name} from a secret/fieldRef this test does not know`);
    return v;
  }

  /** The container spec for one of the chart's containers in `image`. */
  function podContainer(name: string, image: string, extra: { imageMounts?: VolumeMount[]; readOnlyRootFilesystem: boolean }): ContainerSpec {
    const c = chartContainer(name, values);
    const env: Record<string, string> = { PATH: CONTAINER_PATH, HOSTNAME: podName, HOME: '/root' };
    for (const [k, v] of c.env) env[k] = v ?? valueFrom(k);
    return {
      name,
      image,
      workDir: work,
      hostname: podName,
      command: c.argv,
      env,
      imageMounts: extra.imageMounts,
      volumes: c.volumeMounts.map((m) => ({ source: vol[m.name] ?? fail(`no host dir for volume ${m.name}`), mountPath: m.mountPath, readOnly: m.readOnly })),
      readOnlyRootFilesystem: extra.readOnlyRootFilesystem,
    };
  }

  /** The agent-init image: busybox with the bundle at agentImage.bundleDir. */
  function agentInit(name: string): ContainerSpec {
    return podContainer(name, agentInitBase, {
      imageMounts: [{ source: build.dir, mountPath: values.agentImage.bundleDir as string, readOnly: true }],
      readOnlyRootFilesystem: values.initSecurityContext.readOnlyRootFilesystem === true,
    });
  }

  it('the containers run exactly the chart commands (as read from the templates)', () => {
    expect(chartContainer('agent-loader', values).argv).toEqual(['/opt/attune/agent/attune-agent', 'install', '--from', '/opt/attune/agent', '--to', '/agent-bin']);
    expect(chartContainer('wait-for-schema', values).argv).toEqual(['/opt/attune/agent/attune-agent', 'wait', 'schema', '--timeout', '60']);
    expect(chartContainer('wait-for-packs', values).argv).toEqual(['/opt/attune/agent/attune-agent', 'wait', 'packs', '--timeout', '60']);
    const worker = chartContainer('worker', values);
    expect(worker.argv).toEqual(['/opt/attune/agent/attune-agent', 'run']);
    expect(Object.fromEntries(worker.env)).toMatchObject({
      ATTUNE_CONFIG: '/opt/attune/config/config.yaml',
      ATTUNE_WORKER_TYPE: 'container',
      ATTUNE_WORKER_NAME: null,
      ATTUNE__AGENT__HEALTH_PORT: String(healthPort),
      ATTUNE__WORKER__SHUTDOWN_TIMEOUT: '35',
      ATTUNE_WORKER_RUNTIMES: 'shell,python',
    });
    expect(worker.volumeMounts.map((m) => `${m.name}:${m.mountPath}${m.readOnly ? ':ro' : ''}`)).toEqual([
      'agent-bin:/opt/attune/agent:ro',
      'config:/opt/attune/config:ro',
      'packs:/opt/attune/packs:ro',
      'runtime-envs:/opt/attune/runtime_envs',
      'artifacts:/opt/attune/artifacts',
      'tmp:/tmp',
    ]);
  });

  it('agent-loader: installs the bundle from the agent-init image into the agent-bin emptyDir, again as a no-op on restart', async () => {
    const { exit, container } = await runContainer(agentInit('agent-loader'), 120_000);
    expect(exit, container.tail()).toEqual({ code: 0, signal: null });
    expect(container.stderr()).toContain('install: installed attune-agent from /opt/attune/agent into /agent-bin');
    expect(readdirSync(vol['agent-bin']!).sort()).toEqual(['attune-agent', 'lib']);
    expect(treeDigest(vol['agent-bin']!)).toEqual(treeDigest(build.dir));
    // The emptyDir's sizeLimit leaves room for the bundle (plus a staged copy of it).
    const limit = /^(\d+)Mi$/.exec(String(values.agent.binVolumeSizeLimit));
    const installed = [...treeDigest(vol['agent-bin']!).keys()].reduce((n, f) => n + statSync(join(vol['agent-bin']!, f)).size, 0);
    expect(2 * installed).toBeLessThan(Number(limit![1]) * 1024 * 1024);

    // The init container runs again whenever the pod restarts: nothing is rewritten.
    const again = await runContainer(agentInit('agent-loader'), 120_000);
    expect(again.exit, again.container.tail()).toEqual({ code: 0, signal: null });
    expect(again.container.stderr()).toMatch(/install: \/agent-bin is up to date \(\d+ files unchanged\)/);
  });

  it('wait-for-schema: the installed agent waits on the empty database, printing progress, and exits 0 once the schema exists', async () => {
    const started = Date.now();
    const c = startContainer(agentInit('wait-for-schema'));
    containers.push(c);
    // The first unsuccessful poll reports at once (db/ready.ts); apply the schema ~2 s later.
    await c.waitForLine(/^wait: waiting for the Attune schema in .*: table attune\.identity does not exist yet/, 20_000);
    await new Promise((r) => setTimeout(r, Math.max(0, 2000 - (Date.now() - started))));
    expect(c.isRunning()).toBe(true);
    const appliedAt = Date.now();
    const applied = await applySchema({ url: db.url });
    expect(applied.applied.length).toBeGreaterThan(0);
    const exit = await c.exited;
    expect(exit, c.tail()).toEqual({ code: 0, signal: null });
    expect(appliedAt - started).toBeGreaterThanOrEqual(2000);
    const ready = c.lines.findIndex((l) => /^wait: table attune\.identity in .* is ready \(after \d+\.\ds\)$/.test(l.text));
    const progress = c.lines.findIndex((l) => l.text.startsWith('wait: waiting for the Attune schema'));
    expect(ready, c.tail()).toBeGreaterThan(progress);
    expect(progress).toBeGreaterThanOrEqual(0);
    // Secrets never reach the log.
    expect(c.stderr() + c.stdout()).not.toContain(TEST_ENCRYPTION_KEY);
  });

  it('wait-for-packs: waits until <packs>/core/pack.yaml appears on the packs volume, then exits 0', async () => {
    const started = Date.now();
    const c = startContainer(agentInit('wait-for-packs'));
    containers.push(c);
    await c.waitForLine(/^wait: waiting for file \/opt\/attune\/packs\/core\/pack\.yaml: .* does not exist yet/, 20_000);
    await new Promise((r) => setTimeout(r, Math.max(0, 2000 - (Date.now() - started))));
    expect(c.isRunning()).toBe(true);
    // What Attune's pack loader leaves on the packs volume.
    mkdirSync(join(vol.packs!, 'core'), { recursive: true });
    writeFileSync(join(vol.packs!, 'core', 'pack.yaml'), 'ref: core\nlabel: Core\nversion: "1.0.0"\n');
    const exit = await c.exited;
    expect(exit, c.tail()).toEqual({ code: 0, signal: null });
    expect(Date.now() - started).toBeGreaterThanOrEqual(2000);
    expect(c.stderr()).toMatch(/^wait: file \/opt\/attune\/packs\/core\/pack\.yaml is ready \(after \d+\.\ds\)$/m);
  });

  let worker: Container | undefined;

  it('worker: the user image runs the installed agent as PID 1; it registers as a container worker named after the pod, answers the probes and runs an action', async () => {
    cp = await (new (ControlPlaneImpl as any)({ databaseUrl: db.url, amqpUrl: vhost.url, packsDir: vol.packs!, encryptionKey: TEST_ENCRYPTION_KEY }).connect() as Promise<ControlPlane>);
    await cp.installPack(DEMO_PACK_DIR);

    worker = startContainer(podContainer('worker', userImage, { readOnlyRootFilesystem: values.securityContext.readOnlyRootFilesystem === true }));
    containers.push(worker);
    const ready = await worker.waitForLine((l) => l.json?.msg === 'attune-agent ready: consuming executions', 60_000);
    const workerId = Number(ready.json!.workerId);
    const starting = worker.lines.find((l) => l.json?.msg === 'attune-agent starting')!.json!;
    expect(starting.configFiles).toEqual(['/opt/attune/config/config.yaml']);
    expect(starting.environment).toBe('production');
    // PID 1 of its PID namespace (the chart replaces the image's ENTRYPOINT/CMD), so SIGTERM reaches it.
    const status = readFileSync(`/proc/${await worker.pid1()}/status`, 'utf8');
    expect(/^NSpid:\s+\d+\s+(\d+)$/m.exec(status)?.[1]).toBe('1');

    const row = await cp.getWorkerByName(podName);
    expect(row).toMatchObject({ id: String(workerId), name: podName, worker_type: 'container', status: 'active', host: podName });
    expect(row!.capabilities.runtimes).toEqual(['shell', 'python', 'native']);

    // readinessProbe / livenessProbe: httpGet on the health port.
    const probe = async (path: string): Promise<number> => (await fetch(`http://127.0.0.1:${healthPort}${path}`)).status;
    await pollUntil(async () => (await probe('/readyz').catch(() => 0)) === 200, 15_000, '/readyz to answer 200');
    expect(await probe('/healthz')).toBe(200);

    const ex = await cp.createExecution({ actionRef: 'demo_test.py_json', workerId, parameters: { name: 'pod', count: 1 } });
    await cp.dispatch(ex, workerId);
    await cp.waitForCompletions([ex.id], 60_000);
    const done = (await cp.getExecution(ex.id))!;
    expect(done.status, JSON.stringify(done.result)).toBe('completed');
    expect(done.result).toMatchObject({ succeeded: true, exit_code: 0, data: { greeting: 'hello pod', count: 1 } });
    // stderr log on the artifacts volume (read-write in the worker).
    expect(done.result.stderr_log).toMatch(/^\/opt\/attune\/artifacts\//);
    expect(readFileSync(join(vol.artifacts!, done.result.stderr_log.slice('/opt/attune/artifacts/'.length)), 'utf8')).toBe('starting\n');
  });

  it('worker: SIGTERM to PID 1 (pod deletion) drains, exits 0 and leaves the worker inactive', async () => {
    expect(worker?.isRunning()).toBe(true);
    const t0 = Date.now();
    await worker!.signal('SIGTERM');
    const exit = await worker!.exited;
    expect(exit, worker!.tail()).toEqual({ code: 0, signal: null });
    // Well inside terminationGracePeriodSeconds (45 by default).
    expect(Date.now() - t0).toBeLessThan(45_000);
    expect((await cp!.getWorkerByName(podName))?.status).toBe('inactive');
  });
});

function fail(msg: string): never {
  throw new Error(msg);
}
