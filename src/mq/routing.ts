/**
 * Names of the RabbitMQ topology and routing, exactly as upstream hard-codes them
 * (spec 02 §2, §3.3). Core module: no amqplib import.
 */

/** spec 02 §2.1: the five exchanges every service declares, in declaration order. */
export const EXCHANGES = {
  events: 'attune.events',
  executions: 'attune.executions',
  notifications: 'attune.notifications',
  metadata: 'attune.metadata',
  dlx: 'attune.dlx',
} as const;

export type ExchangeType = 'topic' | 'fanout' | 'direct';

/** spec 02 §2.1 table, in upstream order. */
export const EXCHANGE_DECLARATIONS: readonly { name: string; type: ExchangeType }[] = [
  { name: EXCHANGES.events, type: 'topic' },
  { name: EXCHANGES.executions, type: 'topic' },
  { name: EXCHANGES.notifications, type: 'fanout' },
  { name: EXCHANGES.metadata, type: 'topic' },
  { name: EXCHANGES.dlx, type: 'direct' },
];

/** spec 02 §2.1: dead-letter queue, bound to `attune.dlx` with `#` (declared without arguments). */
export const DLX_QUEUE = 'attune.dlx.queue';
export const DLX_BINDING_KEY = '#';

/** spec 02 §2.2: TTL of `worker.{id}.executions` only (signed 32-bit int on the wire). */
export const EXECUTION_QUEUE_TTL_MS = 300_000;

/** spec 02 §3.3: the `message_type` values upstream knows (exact PascalCase enum names). */
export const MESSAGE_TYPES = [
  'EventCreated',
  'EnforcementCreated',
  'ExecutionRequested',
  'ExecutionStatusChanged',
  'ExecutionCompleted',
  'InquiryCreated',
  'InquiryResponded',
  'NotificationCreated',
  'RuleCreated',
  'RuleEnabled',
  'RuleDisabled',
  'RuleDeleted',
  'PackRegistered',
  'PackDeleted',
  'ActionChanged',
  'TriggerChanged',
  'RuntimeChanged',
  'PackChanged',
  'PermissionSetChanged',
  'IdentityAuthorizationChanged',
  'ExecutionCancelRequested',
  'PackTestRequested',
] as const;

export type MessageType = (typeof MESSAGE_TYPES)[number];

export function isMessageType(value: unknown): value is MessageType {
  return typeof value === 'string' && (MESSAGE_TYPES as readonly string[]).includes(value);
}

export interface Route {
  readonly exchange: string;
  readonly routingKey: string;
}

/** spec 02 §3.3: default exchange and routing key per message type ("publish by type"). */
export const DEFAULT_ROUTES: Readonly<Record<MessageType, Route>> = {
  EventCreated: { exchange: EXCHANGES.events, routingKey: 'event.created' },
  EnforcementCreated: { exchange: EXCHANGES.executions, routingKey: 'enforcement.created' },
  ExecutionRequested: { exchange: EXCHANGES.executions, routingKey: 'execution.requested' },
  ExecutionStatusChanged: { exchange: EXCHANGES.executions, routingKey: 'execution.status.changed' },
  ExecutionCompleted: { exchange: EXCHANGES.executions, routingKey: 'execution.completed' },
  InquiryCreated: { exchange: EXCHANGES.executions, routingKey: 'inquiry.created' },
  InquiryResponded: { exchange: EXCHANGES.executions, routingKey: 'inquiry.responded' },
  NotificationCreated: { exchange: EXCHANGES.notifications, routingKey: 'notification.created' },
  RuleCreated: { exchange: EXCHANGES.events, routingKey: 'rule.created' },
  RuleEnabled: { exchange: EXCHANGES.events, routingKey: 'rule.enabled' },
  RuleDisabled: { exchange: EXCHANGES.events, routingKey: 'rule.disabled' },
  RuleDeleted: { exchange: EXCHANGES.events, routingKey: 'rule.deleted' },
  PackRegistered: { exchange: EXCHANGES.events, routingKey: 'pack.registered' },
  PackDeleted: { exchange: EXCHANGES.events, routingKey: 'pack.deleted' },
  ActionChanged: { exchange: EXCHANGES.metadata, routingKey: 'metadata.action.changed' },
  TriggerChanged: { exchange: EXCHANGES.metadata, routingKey: 'metadata.trigger.changed' },
  RuntimeChanged: { exchange: EXCHANGES.metadata, routingKey: 'metadata.runtime.changed' },
  PackChanged: { exchange: EXCHANGES.metadata, routingKey: 'metadata.pack.changed' },
  PermissionSetChanged: { exchange: EXCHANGES.metadata, routingKey: 'metadata.permission_set.changed' },
  IdentityAuthorizationChanged: {
    exchange: EXCHANGES.metadata,
    routingKey: 'metadata.identity_authorization.changed',
  },
  ExecutionCancelRequested: { exchange: EXCHANGES.executions, routingKey: 'execution.cancel' },
  PackTestRequested: { exchange: EXCHANGES.executions, routingKey: 'pack.test.requested' },
};

/** spec 02 §2.2: the worker's four durable queues. */
export function workerQueueNames(workerId: number): {
  executions: string;
  packs: string;
  cancel: string;
  packtests: string;
} {
  return {
    executions: `worker.${workerId}.executions`,
    packs: `worker.${workerId}.packs`,
    cancel: `worker.${workerId}.cancel`,
    packtests: `worker.${workerId}.packtests`,
  };
}

/** spec 02 §2.2: routing keys the executor/API use to address one worker. */
export function workerRoutingKeys(workerId: number): {
  dispatch: string;
  cancel: string;
  packTest: string;
} {
  return {
    dispatch: `execution.dispatch.worker.${workerId}`,
    cancel: `execution.cancel.worker.${workerId}`,
    packTest: `pack.test.dispatch.worker.${workerId}`,
  };
}

/** spec 02 §2.2: consumer tags. */
export function workerConsumerTags(workerId: number): {
  executions: string;
  packs: string;
  cancel: string;
  packtests: string;
  metadata: string;
} {
  return {
    executions: `worker-${workerId}`,
    packs: `worker-${workerId}-packs`,
    cancel: `worker-${workerId}-cancel`,
    packtests: `worker-${workerId}-packtests`,
    metadata: `worker-${workerId}-metadata`,
  };
}

/** spec 02 §2.2: routing keys of the ephemeral metadata queue on `attune.metadata`. */
export const METADATA_BINDING_KEYS = [
  'metadata.action.changed',
  'metadata.runtime.changed',
  'metadata.pack.changed',
] as const;

/** spec 02 §2.2, §7: fixed prefetch of the non-execution consumers. */
export const CONSUMER_PREFETCH = { packs: 5, cancel: 10, packtests: 1, metadata: 32 } as const;

/** spec 02 §7: execution consumer prefetch = max_concurrent_tasks + 2, saturating at u16. */
export function executionPrefetch(maxConcurrentTasks: number): number {
  return Math.min(0xffff, Math.max(0, Math.floor(maxConcurrentTasks)) + 2);
}
