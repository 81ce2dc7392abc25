export { RUNTIME_CANDIDATES, type RuntimeCandidate, type VersionParserStyle } from './candidates';
export {
  WORKER_RUNTIMES_ENV,
  describeDetectedRuntime,
  formatRuntimesEnvValue,
  type DetectedRuntime,
} from './detected-runtime';
export { parseVersion } from './version';
export { normalizeRuntimeName, parseRuntimeList, runtimeAliasesMatchFilter } from './normalize';
export { findBinary } from './lookup';
export { DEFAULT_PROBE_TIMEOUT_MS, detectRuntime, detectRuntimes, runVersionProbe, type DetectOptions } from './probe';
export {
  bootstrapDetection,
  type BootstrapDetectionOptions,
  type BootstrapDetectionResult,
} from './bootstrap';
export {
  buildDetectionJson,
  formatDetectionJson,
  formatDetectionReport,
  formatDetectionTable,
  type DetectionJsonMeta,
} from './report';
