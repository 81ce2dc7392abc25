/**
 * The single-executable bundle as built by `npm run build:sea` (spec 05 §15.3, §17 item 5):
 * layout of dist/agent-linux-<arch>/, the ELF patches (INTERP, DT_RPATH, fuse) checked with
 * readelf independently of the build script's own checks, and the release tarball.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { lstatSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';

import { INSTALL_DIR, SEA_FUSE, ensureSeaBuilt, readelf, type SeaArch, type SeaBuild } from '../../support/sea';

const LOADER: Record<SeaArch, string> = { x64: 'ld-linux-x86-64.so.2', arm64: 'ld-linux-aarch64.so.1' };
const MACHINE: Record<SeaArch, RegExp> = { x64: /Machine:\s+Advanced Micro Devices X86-64/, arm64: /Machine:\s+AArch64/ };
const LIBS = ['libc.so.6', 'libm.so.6', 'libdl.so.2', 'libpthread.so.0', 'libstdc++.so.6', 'libgcc_s.so.1'];
const LICENSES = ['SOURCES.txt', 'libc6.copyright', 'libgcc-s1.copyright', 'libstdc++6.copyright', 'node.LICENSE', 'tini.copyright'];

function count(buf: Buffer, needle: string): number {
  const n = Buffer.from(needle);
  let c = 0;
  for (let i = buf.indexOf(n); i !== -1; i = buf.indexOf(n, i + 1)) c++;
  return c;
}

describe.each<SeaArch>(['x64', 'arm64'])('SEA bundle for linux-%s', (arch) => {
  let build: SeaBuild;
  beforeAll(async () => {
    build = await ensureSeaBuilt(arch);
  });

  it('holds exactly attune-agent and lib/ with the loader, the six libraries, tini and license files, all real files', () => {
    expect(readdirSync(build.dir).sort()).toEqual(['attune-agent', 'lib']);
    expect(statSync(build.binary).mode & 0o777).toBe(0o755);
    expect(readdirSync(build.libDir).sort()).toEqual([LOADER[arch], ...LIBS, 'licenses', 'tini'].sort());
    for (const name of [LOADER[arch], ...LIBS]) {
      const st = lstatSync(join(build.libDir, name));
      expect(st.isFile(), `${name} is a regular file, not a symlink`).toBe(true);
      expect(readelf('-h', join(build.libDir, name))).toMatch(MACHINE[arch]);
    }
    expect(readdirSync(join(build.libDir, 'licenses')).sort()).toEqual(LICENSES.sort());
    const sources = readFileSync(join(build.libDir, 'licenses', 'SOURCES.txt'), 'utf8');
    expect(sources).toMatch(/^ {2}libc6 \d+\.\d+-\S+/m);
    expect(sources).toContain(`node-linux-${arch}`);
    expect(sources).toMatch(/Debian package tini \d+\.\d+/);
  });

  it('ships a statically linked tini for the same machine (the init for PID 1, src/process/pid1.ts)', () => {
    const tini = join(build.libDir, 'tini');
    expect(statSync(tini).mode & 0o777).toBe(0o755);
    expect(readelf('-h', tini)).toMatch(MACHINE[arch]);
    expect(readelf('-lW', tini)).not.toContain('Requesting program interpreter');
  });

  it(`requests the private loader under ${INSTALL_DIR}/lib and searches only that directory via DT_RPATH`, () => {
    expect(readelf('-h', build.binary)).toMatch(MACHINE[arch]);
    const phdrs = readelf('-lW', build.binary);
    expect(phdrs).toContain(`[Requesting program interpreter: ${INSTALL_DIR}/lib/${LOADER[arch]}]`);
    expect(phdrs).toMatch(/^\s*NOTE\s/m);
    const dyn = readelf('-dW', build.binary);
    expect(dyn).toMatch(new RegExp(`\\(RPATH\\)\\s+Library rpath: \\[${INSTALL_DIR}/lib\\]`));
    expect(dyn).not.toContain('(RUNPATH)');
    const needed = [...dyn.matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g)].map((m) => m[1]!);
    expect(needed.length).toBeGreaterThan(0);
    for (const lib of needed) expect(readdirSync(build.libDir), `NEEDED ${lib}`).toContain(lib);
  });

  it('has the SEA fuse flipped exactly once and is stripped of debug info', () => {
    const buf = readFileSync(build.binary);
    expect(count(buf, `${SEA_FUSE}:1`)).toBe(1);
    expect(count(buf, `${SEA_FUSE}:0`)).toBe(0);
    expect(readelf('-SW', build.binary)).not.toContain('.debug_info');
  });

  it('ships a tarball whose .sha256 matches and whose entries are relative to the install dir', () => {
    const tgz = readFileSync(build.tarball);
    const [hex, name] = readFileSync(`${build.tarball}.sha256`, 'utf8').trim().split(/\s+/);
    expect(name).toBe(basename(build.tarball));
    expect(createHash('sha256').update(tgz).digest('hex')).toBe(hex);
    const list = spawnSync('tar', ['-tvzf', build.tarball], { encoding: 'utf8' });
    expect(list.status).toBe(0);
    const entries = list.stdout.trim().split('\n');
    const names = entries.map((l) => l.split(/\s+/).slice(5).join(' ')).map((n) => n.replace(/\/$/, ''));
    expect(names).toContain('attune-agent');
    expect(names).toContain(`lib/${LOADER[arch]}`);
    expect(names.every((n) => n === 'attune-agent' || n === 'lib' || n.startsWith('lib/'))).toBe(true);
    const exe = entries.find((l) => / attune-agent$/.test(l))!;
    expect(exe.startsWith('-rwxr-xr-x root/root') || exe.startsWith('-rwxr-xr-x 0/0')).toBe(true);
    expect(Number(exe.split(/\s+/)[2])).toBe(statSync(build.binary).size);
  });
});
