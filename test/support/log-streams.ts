/**
 * Helpers for log stream tests: a small pack whose actions print what the assertions need,
 * and the joined artifact / artifact_version / log_stream rows of one execution.
 */
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ControlPlane } from './agent';

export const LOGS_PACK = 'logs_t';

const ACTIONS: Record<string, { runner: string; entry: string; script: string | null; format?: string; output?: string }> = {
  a: { runner: 'shell', entry: 'a.sh', script: "#!/bin/bash\nprintf 'out\\n'\nprintf 'err\\n' >&2\n" },
  quiet: { runner: 'shell', entry: 'quiet.sh', script: '#!/bin/bash\nexit 0\n' },
  fail: { runner: 'shell', entry: 'fail.sh', script: "#!/bin/bash\necho 'partial output'\necho 'boom' >&2\nexit 3\n" },
  slow: { runner: 'shell', entry: 'slow.sh', script: "#!/bin/bash\necho 'line one'\nsleep 3\necho 'line two'\n" },
  sleep: { runner: 'shell', entry: 'sleep.sh', script: "#!/bin/bash\necho 'before sleep'\nsleep 30\n" },
  big: { runner: 'shell', entry: 'big.sh', script: "#!/bin/bash\nhead -c 2000 /dev/zero | tr '\\0' 'x'\n" },
  // 300 KiB at once on stdout (segment sizes, spec 06 §9 item 13).
  burst: { runner: 'shell', entry: 'burst.sh', script: "#!/bin/bash\nhead -c 307200 /dev/zero | tr '\\0' 'y'\n" },
  // Prints its process (group) id so a test can end it after killing the agent.
  orphan: { runner: 'shell', entry: 'orphan.sh', script: "#!/bin/bash\necho \"pid $$\"\nsleep 30\n" },
  // Entry point outside the pack: the run fails before any process starts.
  escape: { runner: 'shell', entry: '../../escape.sh', script: null },
  // Secret output field (out_schema): mirrored only after the run, redacted (spec 06 §4.4).
  secret_out: {
    runner: 'shell',
    entry: 'secret_out.sh',
    format: 'json',
    output: 'output:\n  token:\n    type: string\n    secret: true\n',
    script: "#!/bin/bash\nprintf '{\"token\":\"OUT-SECRET-42\",\"n\":1}\\n'\n",
  },
  json: { runner: 'shell', entry: 'json.sh', script: "#!/bin/bash\nprintf '{\"a\":1}\\nplain\\n'\n" },
  // Prints its secret parameter split across two pipe writes, on both streams.
  leak: {
    runner: 'python',
    entry: 'leak.py',
    format: 'text',
    script: [
      'import json, sys, time',
      'tok = json.loads(sys.stdin.readline())["token"]',
      'h = len(tok) // 2',
      "sys.stdout.write('token=' + tok[:h]); sys.stdout.flush(); time.sleep(0.3)",
      "sys.stdout.write(tok[h:] + ' end\\n'); sys.stdout.flush()",
      "sys.stderr.write('err ' + tok + '\\n')",
      '',
    ].join('\n'),
  },
  // Writes the file of a version the test allocated for this execution (spec 06 §3).
  report: {
    runner: 'shell',
    entry: 'report.sh',
    script: '#!/bin/bash\nmkdir -p "$ATTUNE_ARTIFACTS_DIR/logs_t/report"\nprintf hello > "$ATTUNE_ARTIFACTS_DIR/logs_t/report/v1.txt"\n',
  },
};

/** Writes the pack source into a temp dir and returns it (install with `cp.installPack`). */
export function writeLogsPack(): string {
  const dir = mkdtempSync(join(tmpdir(), 'attune-logs-pack-'));
  mkdirSync(join(dir, 'actions'));
  writeFileSync(join(dir, 'pack.yaml'), `ref: ${LOGS_PACK}\nlabel: Logs\nversion: "1.0.0"\nruntime_deps: [shell, python]\nenabled: true\n`);
  for (const [name, a] of Object.entries(ACTIONS)) {
    if (a.script !== null) writeFileSync(join(dir, 'actions', a.entry), a.script, { mode: 0o755 });
    const params = a.runner === 'python' ? 'parameter_delivery: stdin\nparameter_format: json\n' : 'parameter_delivery: stdin\nparameter_format: dotenv\n';
    writeFileSync(
      join(dir, 'actions', `${name}.yaml`),
      `ref: ${LOGS_PACK}.${name}\nrunner_type: ${a.runner}\nentry_point: ${a.entry}\n${params}output_format: ${a.format ?? 'text'}\nenabled: true\n${a.output ?? ''}`,
    );
  }
  return dir;
}

export interface LogRow {
  ref: string;
  scope: string;
  owner: string;
  type: string;
  visibility: string;
  classification: string;
  content_type: string;
  retention_policy: string;
  retention_limit: number;
  name: string;
  description: string;
  artifact_id: string;
  version_id: string;
  version: number;
  execution: string;
  created_by: string;
  meta: Record<string, unknown>;
  file_path: string;
  body_state: string;
  size_bytes: string | null;
  sha256: string | null;
  object_key: string | null;
  backend: string;
  max_unflushed_bytes: string;
  max_unflushed_milliseconds: string;
  sealed: boolean;
  truncated: boolean;
  total_bytes: string;
}

/** The stdout and stderr rows of one execution (ordered stderr, stdout by ref). */
export async function logRows(cp: ControlPlane, executionId: number): Promise<LogRow[]> {
  const res = await cp.query(
    `SELECT a.ref, a.scope, a.owner, a.type, a.visibility, a.classification, a.content_type, a.retention_policy,
            a.retention_limit, a.name, a.description, a.id AS artifact_id, v.id AS version_id, v.version, v.execution,
            v.created_by, v.meta, v.file_path, v.body_state, v.size_bytes, v.sha256, v.object_key, s.backend,
            s.max_unflushed_bytes, s.max_unflushed_milliseconds, s.sealed, s.truncated, s.total_bytes
     FROM artifact_version v
     JOIN artifact a ON a.id = v.artifact
     JOIN log_stream s ON s.artifact_version = v.id
     WHERE v.execution = $1
     ORDER BY a.ref`,
    [executionId],
  );
  return res.rows as LogRow[];
}

export function byStream(rows: LogRow[]): { stdout: LogRow; stderr: LogRow } {
  const stdout = rows.find((r) => r.ref.endsWith('.stdout.log'));
  const stderr = rows.find((r) => r.ref.endsWith('.stderr.log'));
  if (!stdout || !stderr) throw new Error(`expected stdout and stderr log rows, got ${JSON.stringify(rows.map((r) => r.ref))}`);
  return { stdout, stderr };
}

/**
 * A log stream file's content so far, for polls while the action runs: the rows commit before
 * the agent creates their files (as upstream, spec 06 §2.1 step 3), so a file that is not there
 * yet is "not yet" (undefined), not a failure.
 */
export function logFileSoFar(artifactsDir: string, filePath: string): string | undefined {
  try {
    return readFileSync(join(artifactsDir, filePath), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}
