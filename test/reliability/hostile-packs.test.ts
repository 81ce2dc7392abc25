/**
 * Hostile packs on the mounted volume, through the real agent (issue step 8): entrypoints that
 * traverse out of the pack, symlinks pointing outside it, entrypoints that are directories or
 * FIFOs, a 20 MB parameter document, and output that is deeply nested JSON. Each is refused (or
 * handled) with a clear message, the execution is recorded with one completion, and the agent
 * is unaffected: same process, and a normal execution afterwards completes.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createExecutions,
  createHarness,
  installPack,
  killAll,
  processesWithEnv,
  procRssKiB,
  randomHex,
  removeAgentBundle,
  waitTerminal,
  type AgentHarness,
  type AgentProcess,
  type InstalledPack,
  type NewExecution,
} from '../support/chaos';

let h: AgentHarness;
let pack: InstalledPack;
let agent: AgentProcess;
const packRef = `hostile_${randomHex(4)}`;
let outsideScript: string;

const ACTIONS = [
  'up_relative:../../../../../../../../etc/passwd',
  'up_pack_yaml:../pack.yaml',
  'absolute:/etc/passwd',
  'link_abs:evil_abs.sh',
  'link_rel:evil_rel.sh',
  'link_inside:good_link.sh',
  'directory:subdir',
  'fifo:pipe.sh',
  'missing:nothing_here.sh',
  'big_params:size.py',
  'nested_out:nested.py',
  'ok:ok.sh',
];

beforeAll(async () => {
  h = await createHarness({ agent: { maxConcurrentTasks: 4 } });
  outsideScript = join(h.ws.dir, 'outside.sh');
  writeFileSync(outsideScript, '#!/bin/bash\necho "ran a script from outside the pack"\n', { mode: 0o755 });
  pack = await installPack(h.db.pool, h.ws.packsDir, {
    ref: packRef,
    files: {
      'actions/ok.sh': '#!/bin/bash\necho ok\n',
      // Reads the whole JSON document from stdin and reports its size and one value.
      'actions/size.py': [
        'import json, sys',
        'doc = json.loads(sys.stdin.readline())',
        "print(json.dumps({'keys': len(doc), 'blob_len': len(doc['blob']), 'tail': doc['tail']}))",
        '',
      ].join('\n'),
      'actions/nested.py': ["import sys", "sys.stdout.write('[' * 100000 + ']' * 100000 + '\\n')", ''].join('\n'),
    },
    actions: ACTIONS.map((a) => {
      const [name, entrypoint] = a.split(':') as [string, string];
      const python = entrypoint.endsWith('.py');
      return { name, entrypoint, runner: python ? 'python' : 'shell', outputFormat: python ? 'json' : 'text', timeoutSec: 60 };
    }),
  });
  // Hostile content placed on the volume after installation (the digest covers pack.tar.gz only).
  const actions = join(pack.releasePackDir, 'actions');
  symlinkSync('/etc/passwd', join(actions, 'evil_abs.sh'));
  symlinkSync('../../../../../../outside.sh', join(actions, 'evil_rel.sh'));
  symlinkSync(join(actions, 'ok.sh'), join(actions, 'good_link.sh'));
  mkdirSync(join(actions, 'subdir'));
  execFileSync('mkfifo', [join(actions, 'pipe.sh')]);
  agent = await h.startAgent();
}, 120_000);

afterAll(async () => {
  killAll(processesWithEnv(`ATTUNE_PACK_REF=${packRef}`));
  await h?.dispose();
  removeAgentBundle();
}, 60_000);

async function runAll(items: NewExecution[], timeoutMs = 60_000): Promise<Map<string, { id: number; status: string; error: string; result: Record<string, unknown> | null }>> {
  const created = await createExecutions(h.db.pool, pack, h.workerId as number, items);
  for (const c of created) await h.dispatcher.dispatch(c.id, h.workerId as number, pack, c.actionRef);
  const rows = await waitTerminal(
    h.db.pool,
    created.map((c) => c.id),
    timeoutMs,
  );
  await h.recorder.waitForCompletions(
    created.map((c) => c.id),
    10_000,
  );
  const out = new Map<string, { id: number; status: string; error: string; result: Record<string, unknown> | null }>();
  created.forEach((c, i) => {
    const row = rows.get(c.id) as { status: string; result: Record<string, unknown> | null };
    out.set(items[i]?.action as string, { id: c.id, status: row.status, error: String(row.result?.error ?? ''), result: row.result });
  });
  return out;
}

describe('hostile pack content is refused with a clear message; the agent is unaffected', () => {
  it('traversal, outside symlinks, directories and FIFOs fail the execution with the reason; an inside symlink runs', async () => {
    const names = ['up_relative', 'up_pack_yaml', 'absolute', 'link_abs', 'link_rel', 'link_inside', 'directory', 'fifo', 'missing'];
    const r = await runAll(names.map((action) => ({ action })));
    for (const [name, v] of r) console.log(`[hostile] ${name}: ${v.status} — ${v.error}`);
    const outside = 'resolves outside the pack actions directory';
    expect(r.get('up_relative')?.error).toContain(outside);
    expect(r.get('up_pack_yaml')?.error).toContain(outside);
    expect(r.get('absolute')?.error).toContain(outside);
    expect(r.get('link_abs')?.error).toMatch(/resolves outside the pack actions directory .*\(symlink to \/etc\/passwd\)/);
    expect(r.get('link_rel')?.error).toMatch(/\(symlink to .*outside\.sh\)/);
    expect(r.get('directory')?.error).toContain("entrypoint 'subdir' is a directory");
    expect(r.get('fifo')?.error).toContain("entrypoint 'pipe.sh' is not a regular file (FIFO, socket or device)");
    // A missing shell entrypoint is upstream's inline-code quirk: the string is run as code.
    expect(r.get('missing')?.status).toBe('failed');
    for (const n of ['up_relative', 'up_pack_yaml', 'absolute', 'link_abs', 'link_rel', 'directory', 'fifo']) {
      expect(r.get(n)?.status, n).toBe('failed');
      expect(r.get(n)?.error, n).toMatch(/^Action execution failed: Internal error: Invalid action: entrypoint /);
      // One completion each, with the wire status of a pre-run failure.
      expect(h.recorder.completionsFor(r.get(n)?.id as number).map((m) => m.body.payload?.status), n).toEqual(['Failed']);
    }
    expect(r.get('link_inside')?.status).toBe('completed');
    expect(r.get('link_inside')?.result?.stdout).toBe('ok\n');
    expect(h.readLog()).not.toContain('ran a script from outside the pack');
  });

  it('a 20 MB parameter document is delivered whole (or refused clearly) and the agent stays up', async () => {
    const blob = 'x'.repeat(20 * 1024 * 1024);
    const r = await runAll([{ action: 'big_params', parameters: { blob, tail: 'end-of-document' } }], 120_000);
    const v = r.get('big_params');
    console.log(`[hostile] big_params: ${v?.status} ${JSON.stringify(v?.result?.data ?? v?.error)}; agent RSS now ${Math.round((procRssKiB(agent.pid) ?? 0) / 1024)} MiB`);
    expect(v?.status).toBe('completed');
    expect(v?.result?.data).toEqual({ keys: 2, blob_len: blob.length, tail: 'end-of-document' });
    expect(agent.alive).toBe(true);
  });

  it('100 000-deep nested JSON output does not crash the agent', async () => {
    const r = await runAll([{ action: 'nested_out' }]);
    const v = r.get('nested_out');
    console.log(`[hostile] nested_out: ${v?.status}; data ${v?.result?.data === undefined ? 'not parsed' : 'parsed'}; stdout ${String(v?.result?.stdout ?? '').length} chars`);
    expect(['completed', 'failed']).toContain(v?.status);
    expect(h.recorder.completionsFor(v?.id as number)).toHaveLength(1);
    expect(agent.alive).toBe(true);
  });

  it('afterwards the same agent process completes a normal execution', async () => {
    const pid = agent.pid;
    const r = await runAll([{ action: 'ok' }]);
    expect(r.get('ok')?.status).toBe('completed');
    expect(r.get('ok')?.result?.stdout).toBe('ok\n');
    expect(agent.alive).toBe(true);
    expect(agent.pid).toBe(pid);
  });
});
