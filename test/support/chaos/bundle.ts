/** The agent bundle the reliability tier runs (test/support/chaos.ts). */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';
import { REPO_ROOT } from './util';

// ------------------------------------------------------------------ the agent bundle

let bundlePromise: Promise<string> | null = null;
let bundleDir: string | null = null;

/**
 * The agent bundled from the current src/ (same esbuild settings as scripts/build.mjs) into a
 * temp dir — not dist/, which other tiers may be rebuilding at the same time.
 * `ATTUNE_RELIABILITY_BUNDLE=/path/attune-agent.cjs` uses a prebuilt bundle instead.
 */
export function agentBundle(): Promise<string> {
  const given = process.env.ATTUNE_RELIABILITY_BUNDLE;
  if (given) return Promise.resolve(resolve(given));
  bundlePromise ??= (async () => {
    bundleDir = mkdtempSync(join(tmpdir(), 'attune-chaos-bundle-'));
    const outfile = join(bundleDir, 'attune-agent.cjs');
    const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
    await build({
      entryPoints: [join(REPO_ROOT, 'src', 'main.ts')],
      outfile,
      bundle: true,
      platform: 'node',
      format: 'cjs',
      target: 'node20',
      sourcemap: false,
      legalComments: 'none',
      define: { __ATTUNE_AGENT_VERSION__: JSON.stringify(pkg.version) },
      external: ['pg-native'],
      logLevel: 'warning',
    });
    return outfile;
  })();
  return bundlePromise;
}

export function removeAgentBundle(): void {
  if (bundleDir) rmSync(bundleDir, { recursive: true, force: true });
  bundleDir = null;
  bundlePromise = null;
}
