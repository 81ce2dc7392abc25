/**
 * The runtime registry the execution service reads, rebuilt from the `runtime` rows when a
 * metadata event says they changed. Upstream builds its registry once in `WorkerService::new`
 * and needs a restart to see an edited runtime (spec 07 §2.2); here `refresh()` swaps the
 * definitions in place, so the next execution uses the new row. Executions already planned
 * keep the definition they were planned with.
 */
import { runtimeAliasesMatchFilter } from '../detect';
import type { Queryable } from '../db/rows';
import { listRuntimes } from '../db/queries/list-runtimes';
import { createRuntimeRegistry, type RuntimeDefinition, type RuntimeRegistry } from '../execution/runtimes';

export interface LiveRuntimeRegistry extends RuntimeRegistry {
  /** Re-read the runtime rows and swap the definitions; returns the new runtime names. */
  refresh(): Promise<string[]>;
}

export async function createLiveRuntimeRegistry(db: Queryable, filter: readonly string[] | null): Promise<LiveRuntimeRegistry> {
  const build = async (): Promise<RuntimeRegistry> => {
    const rows = await listRuntimes(db);
    // Filtered here, alias-aware (spec 03 §1.4); the registry must not filter again by exact name.
    return createRuntimeRegistry(rows.filter((r) => filter === null || runtimeAliasesMatchFilter([r.name, ...r.aliases], filter)));
  };
  let current = await build();
  let pending: Promise<string[]> | null = null;
  let again = false;
  const refreshOnce = async (): Promise<string[]> => {
    do {
      again = false;
      current = await build();
    } while (again);
    return current.runtimes.map((r) => r.name);
  };
  return {
    get runtimes(): readonly RuntimeDefinition[] {
      return current.runtimes;
    },
    refresh(): Promise<string[]> {
      // A burst of events (e.g. a pack registering ten runtimes) costs at most two reloads.
      if (pending !== null) {
        again = true;
        return pending;
      }
      pending = refreshOnce().finally(() => {
        pending = null;
      });
      return pending;
    },
  };
}
