// Types for what tests import from scripts/build-sea.mjs (plain Node ESM).
/** The pinned Node binary for `arch` (spec 05 §16), fetched once into the cache and verified. */
export declare function ensureNode(arch: 'x64' | 'arm64'): { bin: string; dir: string; package: string; version: string; integrity: string; sha256: string };
