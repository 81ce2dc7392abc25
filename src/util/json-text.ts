/**
 * The JSON text of a large value, made once and shared (issue 18): an execution's result goes
 * out twice, as the terminal UPDATE's parameter and inside the ExecutionCompleted body, and a
 * 10 MiB captured stdout costs ~11-16 ms per JSON.stringify plus the garbage of a second copy.
 *
 * Texts are remembered by the value's identity (a WeakMap: they go when the value goes), so
 * only values that are never changed after their first serialisation may be passed to
 * `sharedJsonText` — an execution result is built once and then only read.
 */

/** Below this many characters a second JSON.stringify costs less than looking the text up. */
export const SHARED_JSON_MIN_CHARS = 64 * 1024;

const texts = new WeakMap<object, string>();

/** JSON.stringify(value); a large text of an object or array is remembered for `knownJsonText`. */
export function sharedJsonText(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  const known = texts.get(value);
  if (known !== undefined) return known;
  const text = JSON.stringify(value);
  if (text.length >= SHARED_JSON_MIN_CHARS) texts.set(value, text);
  return text;
}

/** The text `sharedJsonText` remembered for this very value, if any. */
export function knownJsonText(value: unknown): string | undefined {
  return value !== null && typeof value === 'object' ? texts.get(value) : undefined;
}
