/**
 * Composition root (STYLE.md): start-up steps in order, one call and one log line each; every
 * resource pushes a release function and shutdown runs them in reverse. Only this file installs
 * signal handlers. Order follows spec 01 §7.1 with our additions (retries, schema wait,
 * recovery of abandoned executions, health endpoint).
 */
import { existsSync, mkdirSync } from 'node:fs';
import { hostname } from 'node:os';
import { checkRunConfig } from './config/run-checks';
import { listActivePackReleases } from './db/queries/list-active-pack-releases';
import { packsTransportProblems, resolvePacksTransport, startApiPackTransport, type ApiPackTransportHandle } from './packs';
import { artifactsTransportProblems, resolveArtifactsTransport } from './logs';
import type { Config } from './config/types';
import { ConfigError, AgentError, toError } from './errors';
import type { Logger } from './log';
import { parseRuntimeList } from './detect';
import { captureChildBaseEnv } from './execution/child-env';
import { connectWithRetry, type DbPool } from './db/pool';
import { withPreparedStatements } from './db/prepared';
import { waitForSchema } from './db/ready';
import { listAllRuntimes } from './db/queries/list-all-runtimes';
import type { MqConnection } from './mq/connection';
import { declareCommonInfrastructure, declareWorkerQueues } from './mq/topology';
import { createPublisher } from './mq/publisher';
import { startConsumer, type Consumer } from './mq/consumer';
import { executionPrefetch, workerConsumerTags, workerQueueNames, CONSUMER_PREFETCH } from './mq/messages';
import { buildCapabilities, resolveWorkerIdentity, runtimeTier } from './worker/capabilities';
import { registerWorker, deregisterWorker } from './worker/registration';
import { startHeartbeat, type Heartbeat } from './worker/heartbeat';
import { canReduceMemory, v8HeapTrimPorts } from './util/gc';
import { startHeapTrimmer } from './util/heap-trim';
import { allInOrder } from './util/settle';
import { autoRegisterDetectedRuntimes } from './worker/dynamic-runtimes';
import { detectAvailableRuntimeNames } from './worker/verification-commands';
import { WorkerService } from './worker/service';
import { PackEvents } from './worker/pack-events';
import { PackTests } from './worker/pack-tests';
import { createLocalPackCache, type PackReleaseCache } from './worker/pack-cache';
import { MetadataInvalidation } from './worker/metadata';
import { createLiveRuntimeRegistry } from './worker/live-runtime-registry';
import { waitForPlatformCatalog } from './worker/catalog-wait';
import { runWorkerModeStartup } from './worker/worker-mode-startup';
import { startMetadataSubscription } from './mq/metadata-subscription';
import { withTransaction } from './db/tx';
import { createMetrics, startHealthServer, type HealthServer } from './health';
import { AGENT_VERSION } from './version';
import { createApiAccess } from './wiring/api-access';
import { startMessageQueue, startRuntimeDetection } from './wiring/early-starts';
import { createExecutionOutput } from './wiring/execution-output';
import { reportSandbox } from './wiring/sandbox';
import { currentInitFacts, planInit } from './process/pid1';
import { takePid1Duties } from './wiring/pid1-duties';
import { createActionProcessProtection } from './process/oom';
import { childOomScore, openCompletionJournal } from './wiring/process-state';
import { journaledDb, journaledPublisher, replayCompletionJournal } from './worker/completion-replay';

export interface RunAgentOptions {
  config: Config;
  env: NodeJS.ProcessEnv;
  log: Logger;
  cliName?: string;
}

type Release = { name: string; fn: () => Promise<void> };

/** Runs until SIGTERM/SIGINT; resolves with the exit code. */
export async function runAgent(opts: RunAgentOptions): Promise<number> {
  const { config, env, log } = opts;
  const problems = checkRunConfig(config, env);
  const packsTransport = resolvePacksTransport(config, existsSync); // issue 15: spec 06 §1 `auto`
  problems.push(...packsTransportProblems(config, env, packsTransport));
  const artifactsTransport = resolveArtifactsTransport(config, existsSync); // issue 15: spec 06 §1 `auto`
  problems.push(...artifactsTransportProblems(config, env, artifactsTransport));
  if (problems.length > 0) throw new ConfigError(problems);

  // 0. PID 1 duties (issue 17, src/process/pid1.ts): hand PID 1 to tini before anything starts.
  const supervisedExit = await takePid1Duties(planInit(currentInitFacts(env)), env, log);
  if (supervisedExit !== null) return supervisedExit;

  const releases: Release[] = [];
  const stopSignal = new AbortController();
  let shuttingDown = false;
  let service: WorkerService | null = null;
  const signalHandler = (signal: NodeJS.Signals): void => {
    if (!shuttingDown) {
      shuttingDown = true;
      log.info({ signal }, 'shutdown requested: finishing running executions (send the signal again to stop at once)');
      stopSignal.abort();
      return;
    }
    // STYLE.md: a second signal means "now" (upstream ignores it).
    log.warn({ signal, leftBehind: service?.runningIds() ?? [] }, 'second signal: exiting immediately; running executions are left behind');
    process.exit(1);
  };
  process.on('SIGTERM', signalHandler);
  process.on('SIGINT', signalHandler);
  releases.push({ name: 'signal handlers', fn: async () => void (process.off('SIGTERM', signalHandler), process.off('SIGINT', signalHandler)) });

  const readiness = { database: false, messageQueue: false, registered: false, draining: false };
  const metrics = createMetrics();

  try {
    log.info({ version: AGENT_VERSION, configFiles: config.sources, environment: config.environment }, 'attune-agent starting');

    // 1. Child environment and runtime detection (spec 01 §3.4–3.6), and the RabbitMQ connection
    // with its common infrastructure (spec 02 §1–§2.1). Both run while the database connection
    // and schema checks below are under way (wiring/early-starts.ts); the probes (~100 ms) are
    // first needed by the runtime registration (step 4), the connection at step 5.
    const baseEnv = captureChildBaseEnv(env, config.worker.passthroughEnv);
    const detection = startRuntimeDetection(env, baseEnv, log);
    releases.push({ name: 'runtime detection', fn: () => detection.then(() => undefined) });
    const startupTimeoutMs = config.agent.startupTimeoutSec * 1000;
    const messageQueue = startMessageQueue({
      url: (config.messageQueue as NonNullable<Config['messageQueue']>).url,
      log,
      startupTimeoutMs,
      connectionName: `attune-agent ${AGENT_VERSION}`,
      stop: stopSignal.signal,
    });
    releases.push({ name: 'message queue start', fn: () => messageQueue.release() });

    // 2. Writable directories (upstream: artifacts dir creation failure is fatal).
    ensureWritableDir(config.artifactsDir, 'artifacts_dir');
    log.info({ configured: config.packsTransport, transport: packsTransport, packsBaseDir: config.packsBaseDir }, 'pack transport selected');
    // 2b. What this container allows (non-root uid, read-only root, writable mounts; spec 07 §8.2).
    reportSandbox(config, env, packsTransport, log);

    // 3. PostgreSQL: connect with retry, epoch check, wait for the schema.
    // ATTUNE_AGENT_LZ4_TOAST=0 keeps the server's default TOAST compression (db/pool.ts).
    const poolOptions = { lz4Toast: env.ATTUNE_AGENT_LZ4_TOAST !== '0' };
    const pool: DbPool = await connectWithRetry(config.database, { timeoutMs: startupTimeoutMs, log, signal: stopSignal.signal, poolOptions });
    releases.push({ name: 'database pool', fn: () => pool.end() });
    await waitForSchema(pool, {
      schema: config.database.schema,
      timeoutMs: config.agent.schemaWaitTimeoutSec * 1000,
      signal: stopSignal.signal,
      onProgress: (msg: string) => log.info(msg),
    });
    readiness.database = true;
    log.info('database ready');
    // spec 07 §7.2: no auto.* runtimes beside the core.* ones the API is about to reconcile.
    const catalogRevision = await waitForPlatformCatalog(pool, {
      timeoutMs: config.agent.schemaWaitTimeoutSec * 1000,
      signal: stopSignal.signal,
      onProgress: (msg: string) => log.info(msg),
    });
    log.info({ catalogRevision }, 'platform catalog ready');

    // 4. Dynamic runtime registration, then the runtime registry (spec 01 §5, spec 03 §1.4).
    const detected = await detection;
    if (detected && detected.length > 0) await autoRegisterDetectedRuntimes(pool, detected, log);
    const filter = env.ATTUNE_WORKER_RUNTIMES !== undefined ? parseRuntimeList(env.ATTUNE_WORKER_RUNTIMES) : null;
    // Rebuilt on metadata.runtime/pack.changed (worker/metadata.ts), unlike upstream's.
    const registry = await createLiveRuntimeRegistry(pool, filter);
    log.info({ runtimes: registry.runtimes.map((r) => r.name) }, 'runtime registry built');

    // 5. RabbitMQ (connected and declared since step 1), publisher (spec 02 §1–§2).
    const mq: MqConnection = await messageQueue.ready;
    // Closed here, before the pool ends, as before step 1 opened it (the step-1 release then finds it closed).
    releases.push({ name: 'message queue connection', fn: () => mq.close() });
    mq.on('disconnected', () => {
      readiness.messageQueue = false;
    });
    mq.on('reconnected', () => {
      readiness.messageQueue = true;
      metrics.mqReconnects.inc();
    });
    const publisher = createPublisher(mq, { log: log.child({ component: 'publisher' }) });
    releases.push({ name: 'publisher', fn: () => publisher.close() });
    readiness.messageQueue = true;

    // 6. Register (spec 01 §4).
    const { identity, warnings: idWarnings } = resolveWorkerIdentity({
      workerConfig: config.worker,
      env,
      hostname: safeHostname(),
      cliName: opts.cliName ?? null,
    });
    for (const w of idWarnings) log.warn(w);
    const dbRuntimeNames =
      runtimeTier(config.worker, env) === 'database'
        ? await detectAvailableRuntimeNames(await listAllRuntimes(pool), { childEnv: baseEnv })
        : undefined;
    const caps = buildCapabilities({ workerConfig: config.worker, env, detected, agentVersion: AGENT_VERSION, dbRuntimeNames });
    for (const w of caps.warnings) log.warn(w);
    const worker = await registerWorker(pool, identity, caps.capabilities, log);
    readiness.registered = true;
    const wlog = log.child({ workerId: worker.id, worker: worker.name });
    wlog.info({ runtimes: caps.capabilities.runtimes }, 'worker registered');

    // 7. Per-worker queues (fatal on mismatch, spec 02 §2.4) — again after every reconnect. The
    // broker takes ~20 ms to create them: steps 7b–10 run meanwhile, the consumers wait (step 11).
    const workerQueues = declareWorkerQueues(mq, worker.id);
    workerQueues.catch(() => undefined); // awaited at step 11, and reported there
    mq.onConnect(async () => {
      await declareCommonInfrastructure(mq, wlog);
      await declareWorkerQueues(mq, worker.id);
    });

    // 7b. One worker token and API client (spec 06 §5) for the log streams and the API pack transport.
    const apiAccess = createApiAccess({ config, env, workerId: worker.id });

    // 7c. API pack transport (spec 06 §6): release cache, downloader, background start-up sync.
    let apiPacks: ApiPackTransportHandle | null = null;
    if (packsTransport === 'api') {
      apiPacks = await startApiPackTransport({
        packsBaseDir: config.packsBaseDir,
        maxBytes: config.packsCacheMaxBytes,
        api: apiAccess.packArchive,
        log: wlog,
        signal: stopSignal.signal,
        runningExecutionIds: () => service?.runningIds() ?? [],
        listActiveReleases: () => listActivePackReleases(pool),
      });
      const handle = apiPacks;
      releases.push({ name: 'pack transport', fn: async () => handle.stop() });
    }

    // issue 18: the per-execution statements go by name (db/prepared.ts); opt-out for a
    // connection pooler in transaction mode without prepared-statement support.
    const execDb = env.ATTUNE_AGENT_PREPARED_STATEMENTS === '0' ? pool : withPreparedStatements(pool);

    // 7d. Log streams and file artifacts (spec 06 §2–§4), sealed through the API.
    const output = createExecutionOutput(config, execDb, { id: worker.id, name: worker.name }, apiAccess, wlog, artifactsTransport);
    releases.push({ name: 'log stream sealer', fn: () => output.stop(5_000) });

    // 8. The execution service; settle what a previous process left running or unannounced.
    const journal = await openCompletionJournal(env, config, worker.id, wlog);
    const serviceDb = journal ? journaledDb(execDb, journal, wlog) : execDb;
    const servicePublisher = journal ? journaledPublisher(publisher, journal, wlog) : publisher;
    if (journal) {
      const resent = await replayCompletionJournal({ journal, db: pool, publisher: servicePublisher, log: wlog });
      wlog.info({ dir: journal.dir, resent }, 'completion journal replayed');
    }
    // The same object the pack consumers rewrite in place after verification (advertised-versions.ts).
    caps.capabilities.runtime_versions ??= {};
    const advertised = caps.capabilities.runtime_versions as Record<string, string[]>;
    service = new WorkerService({
      db: serviceDb,
      publisher: servicePublisher,
      config,
      env,
      workerId: worker.id,
      workerName: worker.name,
      baseEnv,
      registry,
      advertisedVersions: advertised,
      detectedShell: detected?.find((d) => d.name === 'shell')?.path ?? null,
      log: wlog,
      metrics,
      packReleases: apiPacks?.gate ?? null,
      output,
      // Actions, not the agent, pay for memory (src/process/oom.ts).
      ...createActionProcessProtection(childOomScore(env), wlog),
    });
    const recovered = await service.recoverAbandoned();
    if (recovered > 0) wlog.warn({ count: recovered }, 'executions left running by a previous agent process were marked abandoned');

    // 8b. Pack release cache (the API transport's cache plugs in here) and the pack consumers' handlers.
    const packCache: PackReleaseCache = apiPacks?.releaseCache ?? createLocalPackCache({ packsBaseDir: config.packsBaseDir, transport: packsTransport });
    const packEvents = new PackEvents({
      db: pool,
      withTransaction: (fn) => withTransaction(pool, fn),
      config,
      env,
      baseEnv,
      workerId: worker.id,
      runtimeFilter: filter,
      capabilities: caps.capabilities,
      packCache,
      log: wlog,
    });
    const packTests = new PackTests({ db: pool, config, env, baseEnv, workerId: worker.id, packCache, log: wlog });
    await packTests.cleanupStaleAttempts();
    // spec 07 §5: Worker (fallback) mode verifies versions and pre-builds environments now.
    if (detected === null || detected.length === 0) {
      await runWorkerModeStartup({ db: pool, workerId: worker.id, baseEnv, runtimeFilter: filter, capabilities: caps.capabilities, packsBaseDir: config.packsBaseDir, packCache, packEvents, log: wlog });
    } else {
      wlog.info('Agent mode: deferring environment setup and version verification to first use');
    }

    // 9. Heartbeat (spec 01 §6).
    const heartbeat: Heartbeat = startHeartbeat({ db: pool, workerId: worker.id, intervalSec: config.worker.heartbeatIntervalSec, log: wlog });
    releases.push({ name: 'heartbeat', fn: () => heartbeat.stop() }); // a start-up failing later stops it before the pool ends
    // Freed heap pages back to the OS under sustained load (issue 18, util/heap-trim.ts); Node 20 pools none.
    if (env.ATTUNE_AGENT_HEAP_TRIM !== '0' && canReduceMemory()) {
      const trim = startHeapTrimmer({ ports: v8HeapTrimPorts(), onTrim: (r) => wlog.debug({ ...r }, 'heap trimmed: freed pages returned to the OS') });
      releases.push({ name: 'heap trimmer', fn: async () => trim.stop() });
    }

    // 10. Health endpoint (optional).
    let health: HealthServer | null = null;
    if (config.agent.healthPort !== null) {
      health = await startHealthServer({ host: config.agent.healthHost, port: config.agent.healthPort, metrics, readiness: () => ({ ...readiness }), log: wlog });
      const h = health;
      releases.push({ name: 'health endpoint', fn: () => h.close() });
    }

    // 11. Consumers (spec 02 §2.2, spec 07 §2.1): executions, cancel, packs, packtests, metadata.
    await workerQueues;
    const queues = workerQueueNames(worker.id);
    const tags = workerConsumerTags(worker.id);
    const svc = service;
    const metadata = new MetadataInvalidation({ registry, log: wlog });
    const metadataSubscription = startMetadataSubscription(mq, { workerId: worker.id, handler: (d) => metadata.handle(d), log: wlog });
    releases.push({ name: 'metadata subscription', fn: () => metadataSubscription.close() });
    const consumers: Consumer[] = [];
    // Side by side (each its own channel: open, qos, consume); the executions consumer last.
    const [cancelConsumer, packsConsumer, packTestsConsumer] = await allInOrder([
      startConsumer(mq, { queue: queues.cancel, consumerTag: tags.cancel, prefetch: CONSUMER_PREFETCH.cancel, handler: (d) => svc.handleCancel(d), log: wlog }),
      startConsumer(mq, { queue: queues.packs, consumerTag: tags.packs, prefetch: CONSUMER_PREFETCH.packs, handler: (d) => packEvents.handle(d), log: wlog }),
      startConsumer(mq, { queue: queues.packtests, consumerTag: tags.packtests, prefetch: CONSUMER_PREFETCH.packtests, handler: (d) => packTests.handle(d), log: wlog }),
    ]);
    const execConsumer = await startConsumer(mq, {
      queue: queues.executions,
      consumerTag: tags.executions,
      prefetch: executionPrefetch(config.worker.maxConcurrentTasks),
      handler: (d) => svc.handleDispatch(d),
      log: wlog,
    });
    consumers.push(execConsumer, cancelConsumer, packsConsumer, packTestsConsumer);
    wlog.info({ queue: queues.executions, maxConcurrentTasks: config.worker.maxConcurrentTasks }, 'attune-agent ready: consuming executions');

    // 12. Wait for a signal, then stop in order.
    await new Promise<void>((resolve) => stopSignal.signal.addEventListener('abort', () => resolve(), { once: true }));
    readiness.draining = true;
    const timeoutSec = config.worker.shutdownTimeoutSec;
    // Stop taking work first: unstarted dispatches stay in (or go back to) the queue.
    svc.stopAccepting();
    await execConsumer.cancel().catch((e: unknown) => wlog.warn({ err: toError(e) }, 'could not cancel the executions consumer'));
    // The heartbeat stops before the row is marked inactive (upstream's race, spec 01 §6).
    await heartbeat.stop();
    await deregisterWorker(pool, worker.id, wlog);
    readiness.registered = false;
    wlog.info({ running: svc.runningCount, timeoutSec }, 'draining running executions');
    const drained = await svc.drain(timeoutSec * 1000);
    if (!drained) {
      wlog.warn({ left: svc.runningIds(), timeoutSec }, 'shutdown_timeout reached: stopping the remaining executions and recording them as abandoned');
      await svc.abandonInFlight(
        `Execution abandoned: attune-agent stopped and worker.shutdown_timeout (${timeoutSec}s) ran out before the action finished`,
        15_000,
      );
    }
    for (const c of [...consumers].reverse()) await c.close(2_000).catch(() => undefined);
    await metadataSubscription.close();
    wlog.info('attune-agent stopped');
  } catch (e) {
    await runReleases(releases, log);
    if (stopSignal.signal.aborted) {
      log.warn({ err: toError(e) }, 'start-up interrupted by a signal');
      return 0;
    }
    throw e;
  }
  await runReleases(releases, log);
  return 0;
}

async function runReleases(releases: Release[], log: Logger): Promise<void> {
  while (releases.length > 0) {
    const r = releases.pop() as Release;
    try {
      await r.fn();
    } catch (e) {
      log.warn({ err: toError(e), resource: r.name }, 'error while releasing a resource during shutdown');
    }
  }
}

function ensureWritableDir(dir: string, key: string): void {
  try {
    mkdirSync(dir, { recursive: true });
  } catch (e) {
    throw new AgentError('INTERNAL', `Cannot create ${key} ${dir}: ${toError(e).message}. Mount a writable volume there or set ${key} (env ATTUNE__${key.toUpperCase()})`, { cause: e });
  }
}

function safeHostname(): string | null {
  try {
    return hostname() || null;
  } catch {
    return null;
  }
}
