// Relative path → [sha256, mode] of every regular file under a directory (bundle copies compared).
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

export function treeDigest(dir: string): Map<string, [string, number]> {
  const out = new Map<string, [string, number]>();
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) out.set(relative(dir, p), [createHash('sha256').update(readFileSync(p)).digest('hex'), statSync(p).mode & 0o7777]);
    }
  };
  walk(dir);
  return out;
}
