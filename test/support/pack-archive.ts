/**
 * Builds pack release archives for tests: gzip tar with arbitrary (also hostile) entries — the
 * header encoding is node-tar's `Header`, which writes whatever path/type it is given.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { gzipSync } from 'node:zlib';
import { Header } from 'tar';

export interface TarEntry {
  path: string;
  type?: 'File' | 'Directory' | 'SymbolicLink' | 'Link' | 'CharacterDevice' | 'FIFO';
  body?: string | Buffer;
  mode?: number;
  linkpath?: string;
  /** Declared size when different from the body (hostile headers). */
  size?: number;
}

export function buildTarGz(entries: readonly TarEntry[]): Buffer {
  const blocks: Buffer[] = [];
  for (const e of entries) {
    const type = e.type ?? 'File';
    const body = type === 'File' ? Buffer.from(e.body ?? '') : Buffer.alloc(0);
    const header = Buffer.alloc(512);
    new Header({
      path: e.path,
      type,
      mode: e.mode ?? (type === 'Directory' ? 0o755 : 0o644),
      size: e.size ?? body.length,
      linkpath: e.linkpath,
      mtime: new Date(0),
      uid: 0,
      gid: 0,
    }).encode(header, 0);
    blocks.push(header, body, Buffer.alloc((512 - (body.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return gzipSync(Buffer.concat(blocks));
}

/** Entries of a directory tree as `<packRef>/…` (what the API stores), executable bits kept. */
export function treeEntries(sourceDir: string, packRef: string): TarEntry[] {
  const out: TarEntry[] = [{ path: `${packRef}/`, type: 'Directory' }];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      const rel = `${packRef}/${relative(sourceDir, p)}`;
      const st = statSync(p);
      if (st.isDirectory()) {
        out.push({ path: `${rel}/`, type: 'Directory' });
        walk(p);
      } else {
        out.push({ path: rel, body: readFileSync(p), mode: st.mode & 0o777 });
      }
    }
  };
  walk(sourceDir);
  return out;
}

/** A small valid pack `<ref>` with `extra` files. */
export function simplePackArchive(packRef: string, extra: Record<string, string> = {}): Buffer {
  return buildTarGz([
    { path: `${packRef}/`, type: 'Directory' },
    { path: `${packRef}/pack.yaml`, body: `ref: ${packRef}\nversion: 1.0.0\n` },
    { path: `${packRef}/actions/`, type: 'Directory' },
    { path: `${packRef}/actions/run.sh`, body: '#!/bin/sh\necho hi\n', mode: 0o755 },
    ...Object.entries(extra).map(([p, body]) => ({ path: `${packRef}/${p}`, body })),
  ]);
}

export function sha256Hex(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}
