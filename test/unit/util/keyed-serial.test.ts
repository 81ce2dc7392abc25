import { describe, expect, it } from 'vitest';
import { KeyedSerial } from '../../../src/util/keyed-serial';

const tick = () => new Promise((r) => setImmediate(r));

describe('KeyedSerial', () => {
  it('runs tasks of one key one after another and tasks of different keys side by side', async () => {
    const serial = new KeyedSerial();
    const events: string[] = [];
    const task = (name: string, gate: Promise<void>) => async () => {
      events.push(`start ${name}`);
      await gate;
      events.push(`end ${name}`);
      return name;
    };
    let openA1!: () => void;
    const a1Gate = new Promise<void>((r) => (openA1 = r));
    const a1 = serial.run('a', task('a1', a1Gate));
    const a2 = serial.run('a', task('a2', Promise.resolve()));
    const b1 = serial.run('b', task('b1', Promise.resolve()));
    await tick();
    expect(events).toEqual(['start a1', 'start b1', 'end b1']);
    openA1();
    expect(await Promise.all([a1, a2, b1])).toEqual(['a1', 'a2', 'b1']);
    expect(events).toEqual(['start a1', 'start b1', 'end b1', 'end a1', 'start a2', 'end a2']);
  });

  it('a failing task rejects only its own caller; the next one still runs', async () => {
    const serial = new KeyedSerial();
    const failed = serial.run('k', async () => {
      throw new Error('boom');
    });
    const next = serial.run('k', async () => 'ok');
    await expect(failed).rejects.toThrow('boom');
    await expect(next).resolves.toBe('ok');
  });
});
