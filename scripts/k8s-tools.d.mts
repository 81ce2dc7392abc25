// Types for scripts/k8s-tools.mjs (plain Node ESM, imported by test/support/helm.ts).
export declare function layerZipPath(): string;
export declare function ensureK8sTools(env?: Readonly<Record<string, string | undefined>>): { helm: string; kubectl: string };
