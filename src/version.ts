/**
 * Build-time constants. esbuild replaces `__ATTUNE_AGENT_VERSION__` (see scripts/build.mjs);
 * under vitest/tsx the fallback reads nothing from disk so `--version` never needs config or I/O.
 */
declare const __ATTUNE_AGENT_VERSION__: string | undefined;

export const AGENT_VERSION: string =
  typeof __ATTUNE_AGENT_VERSION__ === 'string' ? __ATTUNE_AGENT_VERSION__ : '0.6.0-dev';

export const AGENT_BINARY_NAME = 'attune-agent';
