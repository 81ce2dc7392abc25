/**
 * Metadata invalidation (spec 07 §2, upstream `handle_metadata_invalidation` @f3e5d1c).
 * Upstream only evicts its row caches (actions, runtimes, packs); this agent keeps no row
 * caches — it reads action and runtime rows per execution — but it does derive the runtime
 * registry from the `runtime` rows at start-up. `RuntimeChanged` and `PackChanged` (a pack
 * (un)registering brings its runtimes) therefore rebuild that registry, so an edited runtime
 * is used by the next execution without a restart (better than upstream, which needs one).
 * Decode failures and bad pack refs are dead-lettered; other message types are acked.
 */
import type { Logger } from '../log';
import { toError } from '../errors';
import type { ConsumerDecision, Delivery } from '../mq/consumer';
import { parseActionChanged, parseEnvelope, parsePackChanged, parseRuntimeChanged } from '../mq/messages';

export interface RuntimeRegistryRefresher {
  refresh(): Promise<string[]>;
}

export interface MetadataInvalidationOptions {
  registry: RuntimeRegistryRefresher;
  log: Logger;
}

export class MetadataInvalidation {
  private readonly log: Logger;

  constructor(private readonly opts: MetadataInvalidationOptions) {
    this.log = opts.log.child({ component: 'metadata' });
  }

  async handle(d: Delivery): Promise<ConsumerDecision> {
    const env = parseEnvelope(d.body);
    if (!env.ok) return this.reject(env.error, d.routingKey);
    const { message_type: type, payload } = env.envelope;
    if (type === 'ActionChanged') {
      const p = parseActionChanged(payload);
      if (!p.ok) return this.reject(p.error, d.routingKey);
      // No action cache to evict: action rows are read per execution.
      this.log.debug({ actionId: p.value.action_id, actionRef: p.value.action_ref, operation: p.value.operation }, 'action metadata changed');
      return 'ack';
    }
    if (type === 'RuntimeChanged' || type === 'PackChanged') {
      const p = type === 'RuntimeChanged' ? parseRuntimeChanged(payload) : parsePackChanged(payload);
      if (!p.ok) return this.reject(p.error, d.routingKey);
      await this.refresh(type, p.value as unknown as Record<string, unknown>);
      return 'ack';
    }
    this.log.debug({ messageType: type }, 'ignoring message type on the metadata queue');
    return 'ack';
  }

  private async refresh(type: string, payload: Record<string, unknown>): Promise<void> {
    const subject = type === 'RuntimeChanged' ? { runtimeId: payload.runtime_id, runtimeRef: payload.runtime_ref } : { packId: payload.pack_id, packRef: payload.pack_ref };
    try {
      const runtimes = await this.opts.registry.refresh();
      this.log.info({ messageType: type, ...subject, operation: payload.operation, runtimes }, 'runtime registry refreshed after a metadata change');
    } catch (e) {
      // The previous registry stays in use; the next event (or a restart) retries.
      this.log.warn({ messageType: type, ...subject, err: toError(e).message }, 'runtime registry refresh failed; keeping the previous definitions');
    }
  }

  private reject(error: string, routingKey: string): ConsumerDecision {
    this.log.error({ error, routingKey }, 'malformed metadata invalidation rejected (dropped: the metadata queue has no dead-letter exchange, as upstream); the agent keeps serving');
    return 'reject';
  }
}
