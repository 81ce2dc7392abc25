/**
 * A short, never-throwing description of an unknown value for operator messages.
 *
 * Config values come from YAML and the environment, so they can be anything: objects whose
 * keys shadow Object.prototype members (`{toString: 0}`, `{valueOf: 1}`) make String(),
 * template literals and `+` throw "Cannot convert object to primitive value"; YAML aliases
 * build cycles that make JSON.stringify throw; huge values flood the message. This never
 * calls a value's own methods: strings/numbers/booleans/null are shown as JSON, arrays and
 * objects as bounded JSON with cycles marked.
 */
export function describeValue(value: unknown, maxLength = 120): string {
  let text: string;
  try {
    text = JSON.stringify(value, cycleSafeReplacer()) ?? typeName(value);
  } catch {
    text = typeName(value);
  }
  return text.length > maxLength ? `${text.slice(0, maxLength - 1)}…` : text;
}

function typeName(value: unknown): string {
  if (value === undefined) return 'undefined';
  if (typeof value === 'bigint') return `${value.toString()}n`;
  if (typeof value === 'function') return '<function>';
  if (typeof value === 'symbol') return '<symbol>';
  return `<${Array.isArray(value) ? 'list' : typeof value}>`;
}

/** JSON.stringify replacer: marks repeated ancestors as "<cycle>", bigints as strings. */
function cycleSafeReplacer(): (this: unknown, key: string, value: unknown) => unknown {
  const ancestors: unknown[] = [];
  return function replacer(this: unknown, _key: string, value: unknown): unknown {
    if (typeof value === 'bigint') return `${value.toString()}n`;
    if (typeof value !== 'object' || value === null) return value;
    // `this` is the object holding `value`; drop finished siblings from the ancestor chain.
    while (ancestors.length > 0 && ancestors[ancestors.length - 1] !== this) ancestors.pop();
    if (ancestors.includes(value)) return '<cycle>';
    ancestors.push(value);
    return value;
  };
}
