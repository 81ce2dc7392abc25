/**
 * `auto_register_detected_runtimes` (spec 01 §5): before the runtime registry loads, insert an
 * `auto.<name>` runtime row for each detected interpreter the database does not know yet.
 * With the platform catalog loaded every candidate exists (`node` is an alias of
 * `core.nodejs`…), so a normal deployment inserts nothing. Errors are logged, never thrown.
 */
import { toError } from '../errors';
import type { Logger } from '../log';
import type { DetectedRuntime } from '../detect/detected-runtime';
import { getRuntimeByRef } from '../db/queries/get-runtime-by-ref';
import { insertRuntime, type InsertRuntimeInput } from '../db/queries/insert-runtime';
import { listRuntimes } from '../db/queries/list-runtimes';
import type { RuntimeRow } from '../db/models/runtime';
import { sqlState, SQLSTATE_UNIQUE_VIOLATION, type JsonObject, type JsonValue, type Queryable } from '../db/rows';

/** spec 01 §5 step 4: default aliases of an auto runtime. */
const DEFAULT_ALIASES: Readonly<Record<string, readonly string[]>> = {
  shell: ['shell', 'bash', 'sh'],
  python: ['python', 'python3'],
  node: ['node', 'nodejs', 'node.js'],
  ruby: ['ruby', 'rb'],
  go: ['go', 'golang'],
  java: ['java', 'jdk', 'openjdk'],
  perl: ['perl', 'perl5'],
  r: ['r', 'rscript'],
};

/** spec 01 §5 step 4: interpreter file extension; unknown names get none. */
const FILE_EXTENSIONS: Readonly<Record<string, string>> = {
  shell: '.sh',
  python: '.py',
  node: '.js',
  ruby: '.rb',
  go: '.go',
  java: '.java',
  perl: '.pl',
  r: '.R',
};

/** Returns the number of runtime rows inserted. */
export async function autoRegisterDetectedRuntimes(
  db: Queryable,
  detected: readonly DetectedRuntime[],
  log: Logger,
): Promise<number> {
  let existing: RuntimeRow[];
  try {
    existing = await listRuntimes(db);
  } catch (e) {
    // spec 01 §5 step 1: a list error is treated as "no runtimes".
    log.warn({ err: toError(e) }, 'listing runtimes for dynamic registration failed; treating as empty');
    existing = [];
  }

  let inserted = 0;
  for (const runtime of detected) {
    const canonical = runtime.name.toLowerCase();
    try {
      if (runtimeExists(existing, canonical)) {
        log.debug({ runtime: canonical }, 'detected runtime already registered');
        continue;
      }
      const autoRef = `auto.${canonical}`;
      if ((await getRuntimeByRef(db, autoRef)) !== null) {
        log.debug({ runtime: canonical, ref: autoRef }, 'auto runtime already registered');
        continue;
      }
      const template = await getRuntimeByRef(db, `core.${canonical}`);
      const input = template ? fromTemplate(template, runtime, canonical) : minimalRuntime(runtime, canonical);
      const row = await insertRuntime(db, input);
      inserted++;
      existing.push(row);
      log.info({ runtime: canonical, ref: row.ref, path: runtime.path, template: template?.ref ?? null }, 'registered detected runtime');
    } catch (e) {
      if (sqlState(e) === SQLSTATE_UNIQUE_VIOLATION) {
        // Another agent inserted the same ref concurrently (spec 01 §5 "idempotency").
        log.info({ runtime: canonical }, 'detected runtime registered concurrently by another worker');
      } else {
        log.warn({ err: toError(e), runtime: canonical }, 'dynamic runtime registration failed');
      }
    }
  }
  return inserted;
}

/** spec 01 §5 step 2: an alias equals the name exactly, or the ref ends with `.<name>`. */
export function runtimeExists(runtimes: readonly Pick<RuntimeRow, 'ref' | 'aliases'>[], canonical: string): boolean {
  return runtimes.some((r) => r.aliases.includes(canonical) || r.ref.endsWith(`.${canonical}`));
}

function detectionConfig(runtime: DetectedRuntime): JsonObject {
  const cfg: JsonObject = { detected_path: runtime.path, detected_name: runtime.name };
  if (runtime.version !== null) cfg.detected_version = runtime.version;
  return cfg;
}

/** spec 01 §5 step 3: copy the template, pointing its interpreter at the detected binary. */
function fromTemplate(template: RuntimeRow, runtime: DetectedRuntime, canonical: string): InsertRuntimeInput {
  const executionConfig = structuredClone(template.executionConfig);
  const interpreter = executionConfig.interpreter;
  if (isObject(interpreter)) interpreter.binary = runtime.path;
  const environment = executionConfig.environment;
  if (isObject(environment) && typeof environment.interpreter_path === 'string' && !environment.interpreter_path.includes('{')) {
    environment.interpreter_path = runtime.path;
  }
  return {
    ref: `auto.${canonical}`,
    pack: template.pack,
    packRef: template.packRef,
    description: `Auto-detected ${runtime.name} runtime (from template ${template.ref})`,
    name: template.name,
    aliases: template.aliases,
    distributions: template.distributions,
    installation: template.installation,
    installers: {},
    executionConfig,
    autoDetected: true,
    detectionConfig: detectionConfig(runtime),
  };
}

/** spec 01 §5 step 4: a minimal row built from the detection alone. */
function minimalRuntime(runtime: DetectedRuntime, canonical: string): InsertRuntimeInput {
  const interpreter: JsonObject = { binary: runtime.path, args: [] };
  const ext = FILE_EXTENSIONS[canonical];
  if (ext !== undefined) interpreter.file_extension = ext;
  return {
    ref: `auto.${canonical}`,
    pack: null,
    packRef: null,
    description: `Auto-detected ${runtime.name} runtime at ${runtime.path}`,
    name: canonical.charAt(0).toUpperCase() + canonical.slice(1),
    aliases: DEFAULT_ALIASES[canonical] ?? [canonical],
    distributions: {
      verification: { commands: [{ binary: runtime.path, args: ['--version'], exit_code: 0, priority: 1 }] },
    },
    installation: null,
    installers: {},
    executionConfig: { interpreter },
    autoDetected: true,
    detectionConfig: detectionConfig(runtime),
  };
}

function isObject(value: JsonValue | undefined): value is JsonObject {
  return value !== null && value !== undefined && typeof value === 'object' && !Array.isArray(value);
}
