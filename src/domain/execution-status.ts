/**
 * Execution status words shared by the database adapter (the `execution_status_enum` literals,
 * spec 04 §2) and the messaging adapter (the same strings on the wire, spec 02): a neutral module
 * so neither adapter imports the other.
 */
export type ExecutionStatusValue =
  | 'requested'
  | 'scheduling'
  | 'scheduled'
  | 'running'
  | 'completed'
  | 'failed'
  | 'canceling'
  | 'cancelled'
  | 'timeout'
  | 'abandoned';
