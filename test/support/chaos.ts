/**
 * Helpers for the reliability tier (test/reliability/**): the real agent bundle as a child
 * process, a PRIVATE PostgreSQL instance that a test may restart (never the machine's shared
 * cluster), a throwaway RabbitMQ vhost whose connections a test may close, a stand-in for
 * Attune's API + executor that survives those faults (bulk execution rows, confirmed dispatches
 * with retry, a durable recorder of the agent's messages), and process inspection (/proc) to
 * find what an action left behind.
 *
 * Everything lives under one temp dir per test file (`ChaosWorkspace`); `dispose()` stops the
 * agent, the private PostgreSQL and deletes the vhost and the dir.
 */
export * from './chaos/util';
export * from './chaos/bundle';
export * from './chaos/postgres';
export * from './chaos/database';
export * from './chaos/packs';
export * from './chaos/bus';
export * from './chaos/agent-process';
export * from './chaos/proc';
export * from './chaos/harness';

/** An envelope as upstream producers write it (spec 02 §3.1): the control plane harness's one. */
export { envelope } from './agent';

/** The shared server's admin helpers re-exported for tests that need them. */
export { adminQuery, quoteIdent } from './db';
export { testAmqpBaseUrl } from './amqp';
