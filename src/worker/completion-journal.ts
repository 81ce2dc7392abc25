/**
 * A small local journal of completions the agent owes (issue 17): one file per execution whose
 * terminal status is about to be written, written (complete, by rename) BEFORE the terminal UPDATE and removed once ExecutionCompleted is confirmed by the broker. A
 * file left behind by a killed agent is replayed at the next start against the row
 * (completion-replay.ts). No table in Attune's schema; the directory lives on a volume that
 * survives container restarts (default under artifacts_dir, see agent.ts).
 *
 * The entry identifies *our* write by status and a hash of the canonical result, so a row that
 * someone else finished meanwhile (e.g. the executor) is never announced a second time.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';

/** A message about to be handed to the broker: its envelope identity and the wire fields. */
export interface JournaledMessage {
  readonly messageId: string;
  readonly at: string;
  /** ExecutionStatusChanged new_status / previous_status, or ExecutionCompleted status. */
  readonly fields: Readonly<Record<string, string>>;
}

export interface JournalEntry {
  readonly executionId: number;
  /** The terminal status being written (execution_status_enum). */
  readonly status: string;
  /** sha256 of canonicalJson(result) as written. */
  readonly resultHash: string;
  readonly at: string;
  /**
   * Set just before the message goes out: a replay publishes the SAME envelope again, which to
   * the executor is a broker redelivery (which it must tolerate anyway), not a second message.
   */
  readonly statusMessage?: JournaledMessage;
  readonly completionMessage?: JournaledMessage;
}

const ENTRY_RE = /^(\d+)\.json$/;

export class CompletionJournal {
  /** Entries of this process not ended yet (the files are the truth across restarts). */
  private readonly open = new Map<number, JournalEntry>();

  private constructor(readonly dir: string) {}

  /** Create (0700) and open the journal directory. Throws when it cannot be created. */
  static async open(dir: string): Promise<CompletionJournal> {
    await mkdirs(dir);
    return new CompletionJournal(dir);
  }

  /** Durably record that a terminal write for `executionId` is about to happen (replaces an older entry). */
  async begin(executionId: number, status: string, result: unknown): Promise<JournalEntry> {
    const entry: JournalEntry = { executionId, status, resultHash: resultHash(result), at: new Date().toISOString() };
    await this.write(entry);
    this.open.set(executionId, entry);
    return entry;
  }

  /**
   * Record the envelope of a message for an open entry before it is published (a killed process
   * cannot undo a rename).
   */
  async recordMessage(executionId: number, kind: 'status' | 'completion', message: JournaledMessage): Promise<void> {
    const cur = this.open.get(executionId);
    if (!cur) return;
    const next: JournalEntry = kind === 'status' ? { ...cur, statusMessage: message } : { ...cur, completionMessage: message };
    this.open.set(executionId, next);
    await this.write(next);
  }

  /** The envelope already recorded for an open entry's message, if any. */
  recordedMessage(executionId: number, kind: 'status' | 'completion'): JournaledMessage | undefined {
    const e = this.open.get(executionId);
    return kind === 'status' ? e?.statusMessage : e?.completionMessage;
  }

  /** Adopt entries found at start-up (pending()) so replayed messages are recorded too. */
  adopt(entry: JournalEntry): void {
    this.open.set(entry.executionId, entry);
  }

  /** The completion was sent (or is no longer owed): forget the entry. */
  async end(executionId: number): Promise<void> {
    this.open.delete(executionId);
    // No fsync: a SIGKILL cannot undo a finished unlink; only a node crash could, and then the
    // replay finds the row already announced-or-not exactly as it would without the unlink.
    await fs.rm(join(this.dir, `${executionId}.json`), { force: true });
  }

  /**
   * No fsync (issue 18: the two fsyncs of begin() took the journal's cost per execution from about
   * 0.9 to 1.5–1.7 ms of CPU and doubled its wall time, measured under load on the CI machine):
   * what the journal must survive is the agent process being killed, and a finished write()
   * and rename() survive that in the page cache. Only a node crash could lose them — and an
   * emptyDir, where the chart keeps the journal, does not outlive its node's pod anyway.
   */
  private async write(entry: JournalEntry): Promise<void> {
    const final = join(this.dir, `${entry.executionId}.json`);
    const tmp = `${final}.tmp`;
    const fh = await fs.open(tmp, 'w', 0o600);
    try {
      await fh.writeFile(`${JSON.stringify(entry)}\n`);
    } finally {
      await fh.close();
    }
    await fs.rename(tmp, final);
  }

  async get(executionId: number): Promise<JournalEntry | null> {
    return readEntry(join(this.dir, `${executionId}.json`));
  }

  /** Entries left by this or an earlier process, oldest first. Unreadable files are skipped (and removed). */
  async pending(): Promise<JournalEntry[]> {
    const out: JournalEntry[] = [];
    for (const name of await fs.readdir(this.dir)) {
      const path = join(this.dir, name);
      if (name.endsWith('.tmp')) {
        // A begin() interrupted before its rename: its terminal write never started.
        await fs.rm(path, { force: true });
        continue;
      }
      if (!ENTRY_RE.test(name)) continue;
      const e = await readEntry(path);
      if (e) out.push(e);
      else await fs.rm(path, { force: true });
    }
    return out.sort((a, b) => a.at.localeCompare(b.at) || a.executionId - b.executionId);
  }
}

async function readEntry(path: string): Promise<JournalEntry | null> {
  let text: string;
  try {
    text = await fs.readFile(path, 'utf8');
  } catch {
    return null;
  }
  try {
    const v = JSON.parse(text) as Partial<JournalEntry>;
    if (typeof v.executionId !== 'number' || typeof v.status !== 'string' || typeof v.resultHash !== 'string') return null;
    return {
      executionId: v.executionId,
      status: v.status,
      resultHash: v.resultHash,
      at: String(v.at ?? ''),
      ...(isMessage(v.statusMessage) ? { statusMessage: v.statusMessage } : {}),
      ...(isMessage(v.completionMessage) ? { completionMessage: v.completionMessage } : {}),
    };
  } catch {
    return null;
  }
}

/**
 * mkdir -p one level at a time: Node's recursive mkdir spins forever in a libuv thread where
 * mkdir keeps answering ENOENT (seen under /proc); here that is one clear error.
 */
async function mkdirs(dir: string): Promise<void> {
  const abs = resolve(dir);
  const parts = abs.split(sep).filter(Boolean);
  for (let i = 1; i <= parts.length; i++) {
    const p = sep + parts.slice(0, i).join(sep);
    try {
      await fs.mkdir(p, { mode: 0o700 });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
  }
}

function isMessage(v: unknown): v is JournaledMessage {
  const m = v as Partial<JournaledMessage> | null | undefined;
  return !!m && typeof m.messageId === 'string' && typeof m.at === 'string' && typeof m.fields === 'object' && m.fields !== null;
}

/** sha256 of the canonical JSON: equal for the value we wrote and the jsonb PostgreSQL returns. */
export function resultHash(result: unknown): string {
  return createHash('sha256').update(canonicalJson(result)).digest('hex');
}

/**
 * JSON with object keys sorted (jsonb does not keep key order); `undefined` members are dropped
 * as JSON.stringify does.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : canonicalJson(v))).join(',')}]`;
  const obj = value as Record<string, unknown>;
  if (typeof (obj as { toJSON?: unknown }).toJSON === 'function') return canonicalJson((obj as { toJSON(): unknown }).toJSON());
  const parts: string[] = [];
  for (const k of Object.keys(obj).sort()) {
    const v = obj[k];
    if (v === undefined || typeof v === 'function') continue;
    parts.push(`${JSON.stringify(k)}:${canonicalJson(v)}`);
  }
  return `{${parts.join(',')}}`;
}
