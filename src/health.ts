import { createServer, type Server } from 'node:http';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Logger } from './log';

/**
 * Prometheus metrics of one agent process (prom-client, a registry of our own so tests can
 * create several). Names are ours: upstream has no metrics endpoint.
 */
export interface AgentMetrics {
  registry: Registry;
  executions: Counter<'status'>;
  executionDuration: Histogram<'status'>;
  inFlight: Gauge;
  mqReconnects: Counter;
  dispatchRejected: Counter<'reason'>;
  heartbeatFailures: Counter;
}

export function createMetrics(): AgentMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'attune_agent_' });
  return {
    registry,
    executions: new Counter({
      name: 'attune_agent_executions_total',
      help: 'Executions finished by this agent, by final status',
      labelNames: ['status'],
      registers: [registry],
    }),
    executionDuration: new Histogram({
      name: 'attune_agent_execution_duration_seconds',
      help: 'Wall time from dispatch accepted to final status written',
      labelNames: ['status'],
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600],
      registers: [registry],
    }),
    inFlight: new Gauge({ name: 'attune_agent_executions_in_flight', help: 'Executions running now', registers: [registry] }),
    mqReconnects: new Counter({ name: 'attune_agent_mq_reconnects_total', help: 'Broker reconnections', registers: [registry] }),
    dispatchRejected: new Counter({
      name: 'attune_agent_dispatch_rejected_total',
      help: 'Dispatch messages not run, by reason',
      labelNames: ['reason'],
      registers: [registry],
    }),
    heartbeatFailures: new Counter({
      name: 'attune_agent_heartbeat_failures_total',
      help: 'Heartbeat writes that failed',
      registers: [registry],
    }),
  };
}

export interface Readiness {
  database: boolean;
  messageQueue: boolean;
  registered: boolean;
  draining: boolean;
}

export interface HealthServer {
  port: number;
  close(): Promise<void>;
}

/**
 * `/healthz` (process up), `/readyz` (database + broker connected, worker registered, not draining)
 * and `/metrics` (Prometheus text). Off unless `agent.health_port` is set.
 */
export async function startHealthServer(opts: {
  host: string;
  port: number;
  metrics: AgentMetrics;
  readiness: () => Readiness;
  log: Logger;
}): Promise<HealthServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}\n');
      return;
    }
    if (path === '/readyz') {
      const r = opts.readiness();
      const ready = r.database && r.messageQueue && r.registered && !r.draining;
      res.writeHead(ready ? 200 : 503, { 'content-type': 'application/json' }).end(`${JSON.stringify({ ready, ...r })}\n`);
      return;
    }
    if (path === '/metrics') {
      opts.metrics.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': opts.metrics.registry.contentType }).end(text),
        (e: unknown) => res.writeHead(500).end(String(e)),
      );
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /healthz, /readyz or /metrics\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  server.on('error', (e) => opts.log.error({ err: e }, 'health server error'));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : opts.port;
  opts.log.info({ host: opts.host, port }, 'health endpoint listening');
  return {
    port,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
