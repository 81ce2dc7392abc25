#!/usr/bin/env node
// Bundles src/main.ts into ONE CommonJS file (dist/attune-agent.cjs): what `node` runs directly and
// what the single executable embeds (SEA needs CJS up to Node 25.7; STYLE.md "Bundling").
import { build } from 'esbuild';
import { readFileSync, chmodSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));

/**
 * pg's lib/stream.js picks Node or Cloudflare sockets at load time by touching `navigator` and
 * constructing a `Response`: in Node that loads Node's internal undici (fetch) at every start,
 * ~14 ms of CPU and several MiB, also for `--version` and `detect` (issue 18). The agent only
 * runs on Node: pg gets its own Node branch (scripts/lib/pg-node-stream.cjs), nothing else.
 */
const pgNodeStreams = {
  name: 'pg-node-streams',
  setup(b) {
    b.onResolve({ filter: /^\.\/stream(\.js)?$/ }, (args) =>
      /[\\/]node_modules[\\/]pg[\\/]lib$/.test(args.resolveDir) ? { path: join(root, 'scripts', 'lib', 'pg-node-stream.cjs') } : undefined,
    );
  },
};

/**
 * prom-client loads its Pushgateway client (Node's https, tls and zlib) and @opentelemetry/api
 * (exemplars) at start-up; the agent serves /metrics and enables no exemplars. Both resolve to
 * stand-ins that throw when used (scripts/lib/prom-client-unused.cjs): −1 MiB of idle RSS on
 * Node 24 (issue 18). Real behaviour is covered by the /metrics tests.
 */
const promClientUnused = {
  name: 'prom-client-unused',
  setup(b) {
    const stub = join(root, 'scripts', 'lib', 'prom-client-unused.cjs');
    b.onResolve({ filter: /^\.\/lib\/pushgateway$/ }, (args) =>
      /[\\/]node_modules[\\/]prom-client$/.test(args.resolveDir) ? { path: 'Pushgateway', namespace: 'prom-client-unused' } : undefined,
    );
    b.onResolve({ filter: /^@opentelemetry\/api$/ }, (args) =>
      /[\\/]node_modules[\\/]prom-client[\\/]/.test(args.resolveDir) ? { path: 'otel', namespace: 'prom-client-unused' } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'prom-client-unused' }, (args) => ({
      contents: `module.exports = require(${JSON.stringify(stub)}).${args.path};`,
      resolveDir: root,
      loader: 'js',
    }));
  },
};

export async function bundle({ outfile = join(root, 'dist', 'attune-agent.cjs'), target = 'node20', minify = false } = {}) {
  mkdirSync(dirname(outfile), { recursive: true });
  const result = await build({
    entryPoints: [join(root, 'src', 'main.ts')],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target,
    minify,
    // Whitespace and comments only (identifiers stay, so stack traces keep function names): the
    // comments' non-ASCII characters (§, →, —) made V8 hold the whole 1.8 MB source as a
    // two-byte string; measured on Node 24: source in the heap 3.7 -> 1.4 MB, `--version` peak
    // RSS 69.2 -> 66.9 MiB (issue 18, idle RSS).
    minifyWhitespace: true,
    sourcemap: false,
    legalComments: 'none',
    banner: { js: '#!/usr/bin/env node' },
    define: { __ATTUNE_AGENT_VERSION__: JSON.stringify(pkg.version) },
    plugins: [pgNodeStreams, promClientUnused],
    // pg's optional native binding is never used (STYLE.md: no native addons).
    external: ['pg-native'],
    logLevel: 'warning',
    metafile: true,
  });
  chmodSync(outfile, 0o755);
  return { outfile, bytes: Object.values(result.metafile.outputs).reduce((n, o) => n + o.bytes, 0) };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const targetArg = process.argv.find((a) => a.startsWith('--target='));
  const { outfile, bytes } = await bundle({ target: targetArg ? targetArg.slice(9) : 'node20' });
  console.log(`built ${outfile.replace(root + '/', '')} (${(bytes / 1024).toFixed(0)} KiB)`);
}
