// Types for scripts/lib/control-plane.mjs (plain ESM shared with `npm run demo`). Callers cast to
// the ControlPlane interface of test/support/agent.ts, which is kept in step with the file.
export declare const SECRET_MARKER: { $attune_secret: true; redacted: true };
export declare function encryptJsonValue(value: unknown, key: string): string;
export declare function encryptionKeyHash(key: string): string;
export declare const ControlPlane: unknown;
export declare function envelope(messageType: string, payload: unknown, sourceService: string): Record<string, unknown>;
