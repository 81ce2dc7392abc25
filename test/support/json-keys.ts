/**
 * Duplicate keys in a JSON text. JSON.parse silently keeps the last of two equal keys, so a
 * log line like {"workerId":1,"workerId":1} parses fine; this scanner reads the raw text and
 * reports every key that appears twice in the same object (`path.key`).
 */
export function findDuplicateKeys(text: string): string[] {
  const dups: string[] = [];
  const stack: { keys: Set<string>; path: string; pendingKey: string | null; isObject: boolean }[] = [];
  let i = 0;
  const readString = (): string => {
    const start = i;
    i++; // opening quote
    while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
    i++; // closing quote
    return JSON.parse(text.slice(start, i)) as string;
  };
  let expectKey = false;
  while (i < text.length) {
    const c = text[i] as string;
    const top = stack[stack.length - 1];
    if (c === '{' || c === '[') {
      const parentPath = top ? `${top.path}${top.isObject ? `.${top.pendingKey ?? ''}` : '[]'}` : '';
      stack.push({ keys: new Set(), path: parentPath, pendingKey: null, isObject: c === '{' });
      expectKey = c === '{';
      i++;
    } else if (c === '}' || c === ']') {
      stack.pop();
      expectKey = false;
      i++;
    } else if (c === ',') {
      expectKey = top?.isObject ?? false;
      i++;
    } else if (c === '"') {
      const s = readString();
      if (expectKey && top) {
        if (top.keys.has(s)) dups.push(`${top.path}.${s}`.replace(/^\./, ''));
        top.keys.add(s);
        top.pendingKey = s;
        expectKey = false;
      }
    } else {
      i++;
    }
  }
  return dups;
}
