import { describe, it, expect } from 'vitest';
import { withHeartbeat } from '../../../src/mq/connection';
import { isRetriableError } from '../../../src/mq/retriable';
import { describeBrokerError, queueDeclareError, workerQueueArguments } from '../../../src/mq/topology';
import {
  DEFAULT_ROUTES,
  executionPrefetch,
  workerConsumerTags,
  workerQueueNames,
  workerRoutingKeys,
} from '../../../src/mq/routing';
import { DbError, MqError } from '../../../src/errors';

describe('withHeartbeat', () => {
  it('adds heartbeat=60 when absent and keeps an explicit one', () => {
    expect(withHeartbeat('amqp://guest:guest@localhost:5672/%2f', 60)).toBe('amqp://guest:guest@localhost:5672/%2f?heartbeat=60');
    expect(withHeartbeat('amqp://h/v?frameMax=8192', 60)).toBe('amqp://h/v?frameMax=8192&heartbeat=60');
    expect(withHeartbeat('amqp://h/v?heartbeat=5', 60)).toBe('amqp://h/v?heartbeat=5');
  });
});

describe('routing names', () => {
  it('matches spec 02 §2.2 for a worker id', () => {
    expect(workerQueueNames(42)).toEqual({
      executions: 'worker.42.executions',
      packs: 'worker.42.packs',
      cancel: 'worker.42.cancel',
      packtests: 'worker.42.packtests',
    });
    expect(workerRoutingKeys(42)).toEqual({
      dispatch: 'execution.dispatch.worker.42',
      cancel: 'execution.cancel.worker.42',
      packTest: 'pack.test.dispatch.worker.42',
    });
    expect(workerConsumerTags(42)).toEqual({
      executions: 'worker-42',
      packs: 'worker-42-packs',
      cancel: 'worker-42-cancel',
      packtests: 'worker-42-packtests',
      metadata: 'worker-42-metadata',
    });
  });

  it('routes the two worker messages to attune.executions by type (spec 02 §5)', () => {
    expect(DEFAULT_ROUTES.ExecutionStatusChanged).toEqual({ exchange: 'attune.executions', routingKey: 'execution.status.changed' });
    expect(DEFAULT_ROUTES.ExecutionCompleted).toEqual({ exchange: 'attune.executions', routingKey: 'execution.completed' });
  });

  it('sets the execution prefetch to max_concurrent_tasks + 2, saturating at 65535', () => {
    expect(executionPrefetch(10)).toBe(12);
    expect(executionPrefetch(0)).toBe(2);
    expect(executionPrefetch(70000)).toBe(65535);
  });

  it('puts the TTL as an explicit signed 32-bit field on the executions queue only', () => {
    expect(workerQueueArguments('executions')).toEqual({
      'x-dead-letter-exchange': 'attune.dlx',
      'x-message-ttl': { '!': 'int', value: 300000 },
    });
    expect(workerQueueArguments('packs')).toEqual({ 'x-dead-letter-exchange': 'attune.dlx' });
  });
});

function brokerError(text: string, code = 406): Error {
  return Object.assign(new Error(`Operation failed: QueueDeclare; ${code} (PRECONDITION-FAILED) with message "${text}"`), { code });
}

describe('queueDeclareError', () => {
  it('turns an inequivalent-arg 406 into one MQ_TOPOLOGY message with queue, argument and fix', () => {
    const e = queueDeclareError(
      'worker.5.executions',
      brokerError(
        "PRECONDITION_FAILED - inequivalent arg 'x-message-ttl' for queue 'worker.5.executions' in vhost '/': received the value '300000' of type 'signedint' but current is the value '60000' of type 'long'",
      ),
    );
    expect(e.code).toBe('MQ_TOPOLOGY');
    expect(e.message).toBe(
      "RabbitMQ queue 'worker.5.executions' (vhost '/') already exists with a different 'x-message-ttl': " +
        "the agent declares the value '300000' of type 'signedint' but the existing queue has the value '60000' of type 'long'. " +
        "Delete the queue (e.g. rabbitmqctl delete_queue -p '/' 'worker.5.executions'; its messages are lost) " +
        "or align its arguments with upstream's, then restart the agent.",
    );
  });

  it('falls back to the broker text for other 406s and uses MQ_ERROR for non-406 failures', () => {
    const other = queueDeclareError('q', brokerError('PRECONDITION_FAILED - something new'));
    expect(other.code).toBe('MQ_TOPOLOGY');
    expect(other.message).toContain("queue 'q'");
    expect(other.message).toContain('PRECONDITION_FAILED - something new');
    const closed = queueDeclareError('q', new Error('Channel closed'));
    expect(closed.code).toBe('MQ_ERROR');
    expect(closed.message).toBe("Cannot declare queue 'q': Channel closed");
  });

  it('strips amqplib framing from broker errors', () => {
    expect(describeBrokerError(brokerError('NOT_FOUND - no exchange', 404))).toBe('NOT_FOUND - no exchange');
  });
});

describe('isRetriableError', () => {
  it('requeues transport-level MQ/DB/network failures, including wrapped ones', () => {
    expect(isRetriableError(new MqError('publish failed'))).toBe(true);
    expect(isRetriableError(new DbError('cannot reach db', { code: 'DB_UNREACHABLE' }))).toBe(true);
    expect(isRetriableError(Object.assign(new Error('reset'), { code: 'ECONNRESET' }))).toBe(true);
    const pgConnLost = Object.assign(new Error('terminating connection'), { code: '57P01' });
    expect(isRetriableError(new DbError('update failed', { cause: pgConnLost }))).toBe(true);
    expect(isRetriableError(Object.assign(new Error('serialization'), { code: '40001' }))).toBe(true);
  });

  it('rejects bugs, invalid data and topology errors', () => {
    expect(isRetriableError(new Error('boom'))).toBe(false);
    expect(isRetriableError(new MqError('bad queue', { code: 'MQ_TOPOLOGY' }))).toBe(false);
    expect(isRetriableError(Object.assign(new Error('unique violation'), { code: '23505' }))).toBe(false);
    expect(isRetriableError('string thrown')).toBe(false);
    expect(isRetriableError(undefined)).toBe(false);
  });

  it('honours an explicit retriable flag', () => {
    expect(isRetriableError(Object.assign(new Error('x'), { retriable: true }))).toBe(true);
    expect(isRetriableError(Object.assign(new MqError('x'), { retriable: false }))).toBe(false);
  });
});
