/**
 * A small local journal of completions the agent owes (issue 17): an entry per execution whose
 * terminal status is about to be written, recorded BEFORE the terminal UPDATE and ended once
 * ExecutionCompleted is confirmed by the broker. An entry left behind by a killed agent is
 * replayed at the next start against the row (completion-replay.ts). No table in Attune's
 * schema; the directory lives on a volume that survives container restarts (default under
 * artifacts_dir, see wiring/process-state.ts).
 *
 * Storage (issue 18): one append-only file per agent process, `<process>.log`, one JSON record
 * per line (`put` = the entry as it is now, `end` = no longer owed), each appended with one
 * write(2) on an O_APPEND descriptor that is held only while entries are owed: under load it
 * stays open (an open and a close less per record, 8 syscalls per execution), and an idle
 * agent holds none, so the volume can be remounted like any other. The file-per-entry layout before it cost a create, a rename and an unlink per execution:
 * under load ext4's inode allocation (recently deleted inodes) alone was ~7 % of the agent's CPU
 * and the journal ~0.9 ms of CPU per execution. A write that returned is in the page cache and
 * survives the process being killed (what the journal is for); there is no fsync, as before:
 * only a node crash could lose it, and the chart's emptyDir does not outlive its node's pod.
 * Every record starts and ends with a newline, so a torn record (disk full) stands on a line of
 * its own and is skipped on reading. When the file passes `compactBytes`, the open entries are
 * written to a new file that replaces it by rename.
 *
 * At open, what earlier processes left (their `.log` files, and `<id>.json` entries of the
 * earlier layout) is folded, copied into this process's file, and their files are removed:
 * `pending()` returns it for the start-up replay.
 *
 * The entry identifies *our* write by status and a hash of the canonical result, so a row that
 * someone else finished meanwhile (e.g. the executor) is never announced a second time.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';
import { compareOrdinal } from '../util/compare';
import { resultHash } from './result-hash';

export { canonicalJson, resultHash } from './result-hash';

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

export interface JournalOptions {
  /** Rewrite the file with only the open entries once it is larger than this (default 1 MiB). */
  compactBytes?: number;
}

const LEGACY_ENTRY_RE = /^(\d+)\.json$/;
const LOG_RE = /^[0-9a-z-]+\.log$/;
const DEFAULT_COMPACT_BYTES = 1024 * 1024;

export class CompletionJournal {
  /** Entries of this process not ended yet (the file is the truth across restarts). */
  private readonly open = new Map<number, JournalEntry>();
  private closed = false;
  /** Held while `open` has entries (see the file comment); null when idle. */
  private fd: number | null = null;
  private bytes = 0;
  private readonly file: string;
  private readonly compactBytes: number;

  private constructor(
    readonly dir: string,
    opts: JournalOptions,
  ) {
    this.compactBytes = opts.compactBytes ?? DEFAULT_COMPACT_BYTES;
    this.file = join(dir, `${Date.now().toString(36)}-${process.pid}-${randomBytes(3).toString('hex')}.log`);
    closeSync(openSync(this.file, 'a', 0o600));
  }

  /** Create (0700) and open the journal directory, taking over what earlier processes left. Throws when it cannot be created. */
  static async open(dir: string, opts: JournalOptions = {}): Promise<CompletionJournal> {
    await mkdirs(dir);
    const journal = new CompletionJournal(dir, opts);
    journal.takeOver();
    return journal;
  }

  /** The entries a process starting now would find in `dir` (diagnostics and tests); reads only. */
  static entriesOnDisk(dir: string): JournalEntry[] {
    return sortEntries([...readDir(dir).entries.values()]);
  }

  /** Durably record that a terminal write for `executionId` is about to happen (replaces an older entry). */
  async begin(executionId: number, status: string, result: unknown): Promise<JournalEntry> {
    const entry: JournalEntry = { executionId, status, resultHash: resultHash(result), at: new Date().toISOString() };
    this.put(entry);
    return entry;
  }

  /**
   * Record the envelope of a message for an open entry before it is published (a killed process
   * cannot undo a finished write).
   */
  async recordMessage(executionId: number, kind: 'status' | 'completion', message: JournaledMessage): Promise<void> {
    const cur = this.open.get(executionId);
    if (!cur) return;
    this.put(kind === 'status' ? { ...cur, statusMessage: message } : { ...cur, completionMessage: message });
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
    if (!this.open.delete(executionId)) return;
    this.append({ op: 'end', executionId });
    // The last owed entry ended: an idle agent holds nothing (a failed append already let go).
    if (this.open.size === 0) this.releaseFd();
  }

  /** Entries not ended, oldest first: at start-up, what earlier processes left (copied into this process's file at open). */
  async pending(): Promise<JournalEntry[]> {
    return sortEntries([...this.open.values()]);
  }

  /** No more writes (the entries still open stay in the file for the next start). */
  close(): void {
    this.closed = true;
    this.releaseFd();
  }

  private put(entry: JournalEntry): void {
    // In the map before the append: a compaction the append sets off rewrites the file from the
    // map, and must keep this entry as it is now (before, the entry that triggered it was lost).
    const before = this.open.get(entry.executionId);
    this.open.set(entry.executionId, entry);
    try {
      this.append({ op: 'put', ...entry });
    } catch (e) {
      if (before) this.open.set(entry.executionId, before);
      else this.open.delete(entry.executionId);
      throw e;
    }
  }

  /**
   * One record, one write(2) on the O_APPEND descriptor (opened when none is held). Throws
   * (EROFS, ENOSPC, EIO …) to the caller, who runs on without the journal; a failed write drops
   * the descriptor, so the next record opens the file afresh.
   */
  private append(record: Record<string, unknown>): void {
    if (this.closed) throw Object.assign(new Error(`completion journal ${this.file} is closed`), { code: 'EBADF' });
    const line = `\n${JSON.stringify(record)}\n`;
    this.fd ??= openSync(this.file, 'a', 0o600);
    try {
      this.bytes += writeSync(this.fd, line);
    } catch (e) {
      this.releaseFd();
      throw e;
    }
    if (this.bytes > this.compactBytes) this.compactOrKeep();
  }

  /**
   * The record is written: a compaction that fails (disk full, say) must not report it as lost
   * (the caller would run on as if unjournaled while the file holds it). The file stays as it
   * is and the next record tries again.
   */
  private compactOrKeep(): void {
    try {
      this.compact();
    } catch {
      try {
        rmSync(`${this.file}.compact`, { force: true });
      } catch {
        /* a leftover .compact is dropped at the next start */
      }
    }
  }

  private releaseFd(): void {
    if (this.fd === null) return;
    const fd = this.fd;
    this.fd = null;
    try {
      closeSync(fd);
    } catch {
      /* nothing left to flush: writes went straight to the file */
    }
  }

  /** Replace the file by one holding only the open entries (write, then rename over it). */
  private compact(): void {
    const tmp = `${this.file}.compact`;
    const fd = openSync(tmp, 'w', 0o600);
    let bytes = 0;
    try {
      let text = '';
      for (const e of this.open.values()) text += `\n${JSON.stringify({ op: 'put', ...e })}\n`;
      if (text) bytes = writeSync(fd, text);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.file);
    // The held descriptor names the replaced file: the next record opens the new one.
    this.releaseFd();
    this.bytes = bytes;
  }

  /** Fold what earlier processes left, keep it in this process's file, remove their files. */
  private takeOver(): void {
    const { entries, files } = readDir(this.dir, this.file);
    for (const e of sortEntries([...entries.values()])) this.put(e);
    for (const f of files) rmSync(f, { force: true });
    this.bytes = statSync(this.file).size;
  }
}

/** Every entry recorded in `dir` (log files and the earlier layout's files) and the files read. */
function readDir(dir: string, skip?: string): { entries: Map<number, JournalEntry>; files: string[] } {
  const entries = new Map<number, JournalEntry>();
  const files: string[] = [];
  const names = readdirSync(dir).sort();
  for (const name of names) {
    const path = join(dir, name);
    if (path === skip) continue;
    if (name.endsWith('.tmp') || name.endsWith('.compact')) {
      // A write interrupted before its rename: the file it was replacing is still complete.
      files.push(path);
    } else if (LEGACY_ENTRY_RE.test(name)) {
      const e = parseEntry(safeRead(path));
      if (e) entries.set(e.executionId, e);
      files.push(path);
    } else if (LOG_RE.test(name)) {
      for (const line of safeRead(path).split('\n')) foldRecord(entries, line);
      files.push(path);
    }
  }
  return { entries, files };
}

function foldRecord(entries: Map<number, JournalEntry>, line: string): void {
  if (!line) return;
  let v: { op?: unknown; executionId?: unknown };
  try {
    v = JSON.parse(line) as { op?: unknown; executionId?: unknown };
  } catch {
    return; // a torn record
  }
  if (v === null || typeof v !== 'object' || typeof v.executionId !== 'number') return;
  if (v.op === 'end') entries.delete(v.executionId);
  else if (v.op === 'put') {
    const e = parseEntry(v);
    if (e) entries.set(e.executionId, e);
  }
}

function safeRead(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

function sortEntries(entries: JournalEntry[]): JournalEntry[] {
  return entries.sort((a, b) => compareOrdinal(a.at, b.at) || a.executionId - b.executionId);
}

function parseEntry(raw: unknown): JournalEntry | null {
  let v: Partial<JournalEntry>;
  try {
    v = (typeof raw === 'string' ? JSON.parse(raw) : raw) as Partial<JournalEntry>;
  } catch {
    return null;
  }
  if (v === null || typeof v !== 'object') return null;
  if (typeof v.executionId !== 'number' || typeof v.status !== 'string' || typeof v.resultHash !== 'string') return null;
  return {
    executionId: v.executionId,
    status: v.status,
    resultHash: v.resultHash,
    at: String(v.at ?? ''),
    ...(isMessage(v.statusMessage) ? { statusMessage: v.statusMessage } : {}),
    ...(isMessage(v.completionMessage) ? { completionMessage: v.completionMessage } : {}),
  };
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
