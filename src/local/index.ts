/** The `exec` local runner for pack authors. */
export { runExecCommand, runLocal } from './run';
export type { LocalRunConfig, RunExecCommandOptions, RunLocalOptions, RunLocalResult } from './run';
export { loadLocalAction, parseParameters, runtimeNameForRunnerType } from './pack';
export type { LoadLocalActionOptions, LocalAction, LocalParameter } from './pack';
export { buildLocalRequest, parseParamFlag, resolveLocalParameters, LOCAL_EXECUTION_ID } from './request';
export type { BuildLocalRequestOptions } from './request';
