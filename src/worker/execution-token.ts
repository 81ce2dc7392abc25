import { createHmac } from 'node:crypto';

/** Upstream's fallback when `security.jwt_secret` is unset (spec 03 §3.2). */
export const INSECURE_DEFAULT_JWT_SECRET = 'insecure_default_secret_change_in_production';

export interface ExecutionTokenInput {
  /** `execution.executor` — the triggering identity (token `sub`). */
  identityId: number;
  executionId: number;
  actionRef: string;
  permissionSetRefs: readonly string[];
  /** The action ref, plus the workflow parent's action ref for workflow tasks (sorted, deduplicated). */
  standardAccessActionRefs: readonly string[];
  /** Effective timeout + 60 s grace (spec 03 §3.2). */
  ttlSec: number;
  secret: string | null;
  nowSec?: number;
}

/**
 * `ATTUNE_API_TOKEN`: an HS256 JWT with upstream's execution claims
 * (`crates/common/src/auth/jwt.rs` `generate_execution_token_with_permission_sets_and_standard_access`):
 * sub, login `execution:<id>`, iat, exp, token_type `execution`, scope `execution`, metadata.
 */
export function generateExecutionToken(input: ExecutionTokenInput): string {
  const now = input.nowSec ?? Math.floor(Date.now() / 1000);
  const actionRefs = [...new Set(input.standardAccessActionRefs)].sort();
  const claims = {
    sub: String(input.identityId),
    login: `execution:${input.executionId}`,
    iat: now,
    exp: now + input.ttlSec,
    token_type: 'execution',
    scope: 'execution',
    metadata: {
      execution_id: input.executionId,
      action_ref: input.actionRef,
      permission_set_refs: input.permissionSetRefs,
      standard_access_action_refs: actionRefs,
      standard_access_pack_refs: actionRefs.filter((r) => r.includes('.')).map((r) => r.slice(0, r.indexOf('.'))),
    },
  };
  const header = { typ: 'JWT', alg: 'HS256' };
  const signingInput = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
  const secret = input.secret && input.secret.length > 0 ? input.secret : INSECURE_DEFAULT_JWT_SECRET;
  const signature = createHmac('sha256', secret).update(signingInput).digest('base64url');
  return `${signingInput}.${signature}`;
}

function b64url(s: string): string {
  return Buffer.from(s, 'utf8').toString('base64url');
}
