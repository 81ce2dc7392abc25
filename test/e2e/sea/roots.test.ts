/**
 * The single executable inside root filesystems that stand in for user images (spec 05 §15.1,
 * §17): a glibc Debian image, busybox with no libc, an Alpine-like musl root, an empty root, and
 * an arm64 busybox root run under qemu-user. The agent directory is bind-mounted read-only at
 * /opt/attune/agent and /proc is mounted, as a container runtime would (spec 05 §7 item 2).
 *
 * Needs root (chroot, mount). Roots are cached under .cache/rootfs/ (scripts/rootfs.sh).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { TEST_ENCRYPTION_KEY, TEST_JWT_SECRET, createAgentTestEnv, type AgentTestEnv } from '../../support/agent';
import { startContainer, type Container } from '../../support/podflow';
import {
  ensureRootfs, interpretersInRoot, mountAgentInRoot, realpathInRoot, type MountedRoot, type RootName,
} from '../../support/rootfs';
import { CONTAINER_PATH, INSTALL_DIR, REPO_ROOT, ensureSeaBuilt, type SeaArch, type SeaBuild } from '../../support/sea';

const VERSION = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')).version as string;

interface RootCase {
  readonly name: RootName;
  readonly arch: SeaArch;
  /** Independent sanity floor for what interpretersInRoot() must find (guards the oracle itself). */
  readonly atLeast: readonly string[];
  /** Whether the root has a glibc loader of its own (only the Debian one does). */
  readonly hasGlibc: boolean;
}

const ROOTS: readonly RootCase[] = [
  { name: 'debian', arch: 'x64', atLeast: ['shell', 'python'], hasGlibc: true },
  { name: 'busybox', arch: 'x64', atLeast: ['shell'], hasGlibc: false },
  { name: 'musl', arch: 'x64', atLeast: ['shell'], hasGlibc: false },
  { name: 'empty', arch: 'x64', atLeast: [], hasGlibc: false },
  { name: 'busybox-arm64', arch: 'arm64', atLeast: ['shell'], hasGlibc: false },
];

interface DetectJson {
  runtimes: Array<{ name: string; path: string; version: string | null }>;
  agent_version: string;
}

describe.each(ROOTS)('SEA in the $name root ($arch): startup and detection', (rc) => {
  let root: MountedRoot | undefined;
  let rootDir: string;

  beforeAll(async () => {
    const build = await ensureSeaBuilt(rc.arch);
    rootDir = await ensureRootfs(rc.name);
    root = mountAgentInRoot(rootDir, build.dir, rc.arch);
  });
  afterAll(() => root?.unmount());

  it(rc.hasGlibc ? 'is a glibc root (premise)' : 'has no glibc loader of its own (premise)', () => {
    const loaders = ['/lib64/ld-linux-x86-64.so.2', '/lib/ld-linux-aarch64.so.1', '/lib/x86_64-linux-gnu/libc.so.6'];
    expect(loaders.some((p) => existsSync(join(rootDir, p)))).toBe(rc.hasGlibc);
    if (rc.name === 'musl') expect(existsSync(join(rootDir, 'lib/ld-musl-x86_64.so.1'))).toBe(true);
  });

  it('prints its version with --version and exits 0', () => {
    const r = root!.runAgent(['--version']);
    expect(r.stderr).toBe('');
    expect(r).toMatchObject({ status: 0, stdout: `attune-agent ${VERSION}\n` });
  });

  it('reports exactly the interpreters the root contains with `detect --json`', () => {
    const r = root!.runAgent(['detect', '--json']);
    expect(r.status, r.stderr).toBe(0);
    const got = JSON.parse(r.stdout) as DetectJson;
    expect(got.agent_version).toBe(VERSION);

    const want = interpretersInRoot(rootDir);
    for (const name of rc.atLeast) expect([...want.keys()], `the ${rc.name} root has ${name}`).toContain(name);
    expect(got.runtimes.map((x) => x.name)).toEqual([...want.keys()]);
    for (const rt of got.runtimes) {
      // Same file, whichever alias was found (/bin/bash vs /usr/bin/bash, /bin/sh -> busybox).
      expect(realpathInRoot(rootDir, rt.path), rt.name).toBe(realpathInRoot(rootDir, want.get(rt.name)!));
    }
  });

  if (rc.name === 'debian') {
    it("reports the root's own python3 version", () => {
      const own = root!.run(['/usr/bin/python3', '--version']);
      expect(own.status).toBe(0);
      const ownVersion = /Python (\d+\.\d+\.\d+)/.exec(own.stdout + own.stderr)?.[1];
      const got = JSON.parse(root!.runAgent(['detect', '--json']).stdout) as DetectJson;
      expect(got.runtimes.find((x) => x.name === 'python')?.version).toBe(ownVersion);
    });
  }
});


// Full executions inside the roots: the SEA agent runs as PID 1 of a container made from each
// root (test/support/podflow.ts: overlay of the root, own mount/PID/UTS namespaces, host
// network), registers in PostgreSQL and consumes from RabbitMQ on 127.0.0.1, runs actions with
// what the root offers, and reports results. Configuration comes from ATTUNE__* variables only;
// the packs, runtime-envs and artifacts volumes are mounted where a deployment mounts them
// (/opt/attune/{packs,runtime_envs,artifacts}; packs read-only).
describe('SEA in root filesystems: executions against PostgreSQL + RabbitMQ', () => {
  let build: SeaBuild;
  let env: AgentTestEnv;
  let work: string;
  const containers: Container[] = [];
  const rootDirs = new Map<RootName, string>();

  beforeAll(async () => {
    build = await ensureSeaBuilt('x64');
    for (const r of EXEC_ROOTS) rootDirs.set(r, await ensureRootfs(r));
    env = await createAgentTestEnv();
    work = mkdtempSync(join(tmpdir(), 'attune-roots-exec-'));
    const pack = writeRootsPack(join(work, 'src-pack'));
    const installed = await env.cp.installPack(pack);
    // The shell action runs through a runtime of its own pack whose interpreter is /bin/sh
    // (packs may define runtimes): the catalog's core.shell insists on /bin/bash (spec 03 §7.1),
    // which busybox and Alpine-like images do not have. Alias `shell` keeps it in the registry of
    // an agent whose detection found `shell` (the ATTUNE_WORKER_RUNTIMES filter, spec 03 §1.4).
    const rt = await env.cp.query(
      `INSERT INTO runtime (ref, pack, pack_ref, description, name, aliases, distributions, execution_config)
       VALUES ('e2e_roots.posix_sh', $1, 'e2e_roots', 'POSIX sh from the image', 'POSIX sh', ARRAY['sh', 'shell'],
               '{"verification": {"commands": [{"binary": "sh", "args": ["-c", "exit 0"], "exit_code": 0, "priority": 1}]}}'::jsonb,
               '{"interpreter": {"binary": "/bin/sh", "args": [], "file_extension": ".sh"}}'::jsonb)
       RETURNING id`,
      [installed.packId],
    );
    await env.cp.query(`UPDATE action SET runtime = $1 WHERE ref = 'e2e_roots.sh_info'`, [Number(rt.rows[0]!.id)]);
  });

  afterAll(async () => {
    for (const c of containers) c.kill();
    await Promise.all(containers.map((c) => Promise.race([c.exited, new Promise((r) => setTimeout(r, 5000))])));
    await env?.cleanup();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  /** Start `attune-agent run` as PID 1 of a container from `root`; resolves once it consumes. */
  async function startWorker(root: RootName): Promise<{ c: Container; name: string; workerId: number; artifacts: string }> {
    const name = env.uniqueName(`roots-${root}`);
    const dirs = { runtimeEnvs: join(work, root, 'runtime_envs'), artifacts: join(work, root, 'artifacts') };
    for (const d of Object.values(dirs)) mkdirSync(d, { recursive: true });
    const c = startContainer({
      name,
      image: rootDirs.get(root)!,
      workDir: work,
      hostname: name,
      command: [`${INSTALL_DIR}/attune-agent`, 'run'],
      volumes: [
        { source: build.dir, mountPath: INSTALL_DIR, readOnly: true },
        { source: env.packsDir, mountPath: '/opt/attune/packs', readOnly: true },
        { source: dirs.runtimeEnvs, mountPath: '/opt/attune/runtime_envs' },
        { source: dirs.artifacts, mountPath: '/opt/attune/artifacts' },
      ],
      env: {
        PATH: CONTAINER_PATH,
        HOME: '/root',
        HOSTNAME: name,
        ATTUNE_WORKER_NAME: name,
        ATTUNE__DATABASE__URL: env.db.url,
        ATTUNE__MESSAGE_QUEUE__URL: env.vhost.url,
        ATTUNE__SECURITY__JWT_SECRET: TEST_JWT_SECRET,
        ATTUNE__SECURITY__ENCRYPTION_KEY: TEST_ENCRYPTION_KEY,
        ATTUNE__PACKS_BASE_DIR: '/opt/attune/packs',
        ATTUNE__RUNTIME_ENVS_DIR: '/opt/attune/runtime_envs',
        ATTUNE__ARTIFACTS_DIR: '/opt/attune/artifacts',
        ATTUNE__PACKS__TRANSPORT: 'volume',
        ATTUNE__ARTIFACTS__TRANSPORT: 'volume',
        ATTUNE__WORKER__HEARTBEAT_INTERVAL: '2',
        ATTUNE__WORKER__SHUTDOWN_TIMEOUT: '5',
      },
    });
    containers.push(c);
    const ready = await c.waitForLine((l) => l.json?.msg === 'attune-agent ready: consuming executions', 60_000);
    return { c, name, workerId: Number(ready.json!.workerId), artifacts: dirs.artifacts };
  }

  /** Dispatch one execution to `workerId` and return its final row once ExecutionCompleted arrived. */
  async function execute(workerId: number, actionRef: string, parameters: Record<string, unknown>): Promise<Record<string, any>> {
    const ex = await env.submit(workerId, { actionRef, parameters });
    await env.cp.waitForCompletions([ex.id], 60_000);
    expect(env.cp.completionsFor(ex.id)).toHaveLength(1);
    return (await env.cp.getExecution(ex.id))!;
  }

  /** SIGTERM to PID 1: the agent drains, marks itself inactive and exits 0. */
  async function stopWorker(w: { c: Container; name: string }): Promise<void> {
    await w.c.signal('SIGTERM');
    const exit = await w.c.exited;
    expect(exit, w.c.tail()).toEqual({ code: 0, signal: null });
    expect((await env.cp.getWorkerByName(w.name))?.status).toBe('inactive');
  }

  it('debian root: registers with shell and python and completes a python and a bash action', async () => {
    const w = await startWorker('debian');
    const row = await env.cp.getWorkerByName(w.name);
    expect(row).toMatchObject({ status: 'active', worker_type: 'local', host: w.name });
    // What the root contains (minbase has perl-base too), found independently of the agent.
    const want = [...interpretersInRoot(rootDirs.get('debian')!).keys()];
    expect(want).toEqual(expect.arrayContaining(['shell', 'python']));
    const detected = (row!.capabilities.detected_interpreters as Array<{ name: string; path: string }>).map((d) => d.name);
    expect(detected).toEqual(want);
    expect(row!.capabilities.runtimes).toEqual([...want, 'native']);

    const py = await execute(w.workerId, 'demo_test.py_json', { name: 'debian', count: 2 });
    expect(py.status, JSON.stringify(py.result)).toBe('completed');
    expect(py.result).toMatchObject({ succeeded: true, exit_code: 0, data: { greeting: 'hello debian hello debian', count: 2, delivery: 'stdin' } });
    // The stderr log went to the artifacts volume, under the path the agent saw inside the root.
    expect(py.result.stderr_log).toMatch(/^\/opt\/attune\/artifacts\//);
    expect(readFileSync(join(w.artifacts, py.result.stderr_log.slice('/opt/attune/artifacts/'.length)), 'utf8')).toBe('starting\n');

    const sh = await execute(w.workerId, 'demo_test.echo', { message: 'from the debian root' });
    expect(sh.status, JSON.stringify(sh.result)).toBe('completed');
    expect(sh.result).toMatchObject({ succeeded: true, exit_code: 0, stdout: 'from the debian root\n' });
    await stopWorker(w);
  });

  it.each(['busybox', 'musl'] as const)(
    '%s root: completes a shell action with busybox sh, and a core.shell (/bin/bash) action with the detected /bin/sh',
    async (root) => {
      const w = await startWorker(root);
      const row = await env.cp.getWorkerByName(w.name);
      expect(row!.capabilities.detected_interpreters).toEqual([expect.objectContaining({ name: 'shell', path: '/bin/sh' })]);
      expect(row!.capabilities.runtimes).toEqual(['shell', 'native']);

      const sh = await execute(w.workerId, 'e2e_roots.sh_info', { message: `hello ${root}` });
      expect(sh.status, JSON.stringify(sh.result)).toBe('completed');
      expect(sh.result).toMatchObject({ succeeded: true, exit_code: 0, stdout: `shell=/bin/busybox\nmessage=hello ${root}\n` });

      // core.shell's interpreter is /bin/bash (spec 03 §7.1); upstream fails here with "Interpreter
      // '/bin/bash' is not available". The agent advertises `shell` because it found /bin/sh, so it
      // runs the action with that shell (src/worker/prepare.ts withShellFallback).
      const bash = await execute(w.workerId, 'demo_test.echo', { message: 'no bash, sh will do' });
      expect(bash.status, JSON.stringify(bash.result)).toBe('completed');
      expect(bash.result).toMatchObject({ succeeded: true, stdout: 'no bash, sh will do\n' });
      await stopWorker(w);
    },
  );

  it('empty root: registers with no interpreters and completes a static native binary action', async () => {
    const w = await startWorker('empty');
    const row = await env.cp.getWorkerByName(w.name);
    expect(row!.capabilities.detected_interpreters ?? []).toEqual([]);
    expect(row!.capabilities.runtimes).toContain('native');

    const ex = await execute(w.workerId, 'e2e_roots.native_info', { word: 'scratch', n: 7 });
    expect(ex.status, JSON.stringify(ex.result)).toBe('completed');
    // Parameters arrive as JSON on stdin, never on argv (spec 03 §2.5, §1.6: argv = [code_path]).
    expect(ex.result).toMatchObject({
      succeeded: true,
      exit_code: 0,
      data: { params: { word: 'scratch', n: 7 }, argc: 1, action: 'e2e_roots.native_info', exec_id: String(ex.id) },
    });

    const bash = await execute(w.workerId, 'demo_test.echo', { message: 'no shell here' });
    expect(bash.status).toBe('failed');
    expect(bash.result.error).toContain(`Interpreter '/bin/bash' is not available`);
    await stopWorker(w);
  });
});

const EXEC_ROOTS: readonly RootName[] = ['debian', 'busybox', 'musl', 'empty'];

const NATIVE_INFO_C = String.raw`/* e2e_roots.native_info: echoes its JSON parameters (stdin) inside a JSON object on stdout. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
  (void)argv;
  static char buf[65536];
  size_t n = fread(buf, 1, sizeof buf - 1, stdin);
  while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r')) n--;
  buf[n] = '\0';
  const char *action = getenv("ATTUNE_ACTION");
  const char *exec_id = getenv("ATTUNE_EXEC_ID");
  printf("{\"params\":%s,\"argc\":%d,\"action\":\"%s\",\"exec_id\":\"%s\"}\n",
         n > 0 ? buf : "null", argc, action ? action : "", exec_id ? exec_id : "");
  return 0;
}
`;

/**
 * The pack e2e_roots: `sh_info` (POSIX sh, reports which program runs it) and `native_info`, a
 * static executable compiled here with `gcc -static` (libc6-dev's libc.a), needing nothing from
 * the root it runs in.
 */
function writeRootsPack(dir: string): string {
  mkdirSync(join(dir, 'actions'), { recursive: true });
  writeFileSync(join(dir, 'pack.yaml'), 'ref: e2e_roots\nlabel: "Roots e2e"\nversion: "1.0.0"\n');
  writeFileSync(
    join(dir, 'actions', 'sh_info.yaml'),
    [
      'ref: e2e_roots.sh_info',
      'runner_type: posix_sh',
      'entry_point: sh_info.sh',
      'parameter_delivery: stdin',
      'parameter_format: dotenv',
      'output_format: text',
      '',
    ].join('\n'),
  );
  writeFileSync(
    join(dir, 'actions', 'sh_info.sh'),
    [
      '# dotenv parameters on stdin: message=\'...\'',
      'while IFS= read -r line; do',
      '  case "$line" in message=*) eval "message=${line#message=}" ;; esac',
      'done',
      'echo "shell=$(readlink /proc/$$/exe)"',
      'echo "message=$message"',
      '',
    ].join('\n'),
  );
  writeFileSync(
    join(dir, 'actions', 'native_info.yaml'),
    [
      'ref: e2e_roots.native_info',
      'runner_type: native',
      'entry_point: native_info',
      'parameter_delivery: stdin',
      'parameter_format: json',
      'output_format: json',
      '',
    ].join('\n'),
  );
  const src = join(dir, '..', 'native_info.c');
  writeFileSync(src, NATIVE_INFO_C);
  const cc = spawnSync('gcc', ['-static', '-O2', '-s', '-o', join(dir, 'actions', 'native_info'), src], { encoding: 'utf8' });
  if (cc.status !== 0) throw new Error(`gcc -static failed (install gcc and libc6-dev): ${cc.error?.message ?? cc.stderr}`);
  return dir;
}
