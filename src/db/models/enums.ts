/** PostgreSQL enum literals (spec 04 §2). Bound as text; pg returns them as strings. */
export type WorkerTypeValue = 'local' | 'remote' | 'container';
// Upstream's newest worker_role_enum has no 'hybrid' (spec 07 §7.3); the agent writes 'action'.
export type WorkerRoleValue = 'action' | 'sensor';
export type WorkerStatusValue = 'active' | 'inactive' | 'busy' | 'error';
export type { ExecutionStatusValue } from '../../domain/execution-status';
export type EnforcementStatusValue = 'created' | 'processed' | 'disabled';
export type EnforcementConditionValue = 'any' | 'all';
export type RetentionPolicyValue = 'versions' | 'days' | 'hours' | 'minutes';
export type ReferenceVisibilityValue = 'public' | 'private' | 'restricted';
