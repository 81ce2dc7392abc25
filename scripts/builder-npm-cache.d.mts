// Types for scripts/builder-npm-cache.mjs (imported by test/e2e/k8s/dockerfile-builder.test.ts).
export declare function prepareNpmCache(dir: string): { dir: string; fresh: boolean };
