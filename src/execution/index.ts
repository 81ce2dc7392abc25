/** Public surface of the execution engine. */
export { runExecution, DEFAULT_KILL_GRACE_MS, DEFAULT_LOG_FINALIZATION_TIMEOUT_MS } from './execute';
export { buildFailureOutcome, decideStatus } from './result';
export { prepareFailureText, runtimeFailureText } from './failures';
export {
  BUILTIN_RUNTIMES,
  createBuiltinRuntimeRegistry,
  createRuntimeRegistry,
  parseRuntimeExecutionConfig,
  resolveBuiltinRuntimeName,
  type RuntimeDefinition,
  type RuntimeRegistry,
  type RuntimeRow,
} from './runtimes';
export { redactActionResult, secretPathsFromSchema, REDACTION_MARKER, isRedactionMarker } from './redact';
export type {
  ExecutionContextVars,
  ExecutionOutcome,
  ExecutionRequest,
  ExecutionStatus,
  LogFilePaths,
  OutputFormat,
  ParameterDelivery,
  ParameterFormat,
  RedactedResultValue,
  RuntimeEnvVarSpec,
  RuntimeExecutionConfig,
} from './types';
export type { ExecutionDeps, ProcessSpawner, SpawnInfo } from './ports';
export type { OutputSink } from './log-sink';
