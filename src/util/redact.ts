/** Replace the password of a URL-like string (postgres://u:pw@h/db, amqp://u:pw@h) with `***`. */
export function maskUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@]*):([^@/]*)@/i, '$1:***@');
}

/** Short, safe description of a connection target: host:port/database (no credentials). */
export function describeTarget(url: string): string {
  try {
    const u = new URL(url);
    const path = decodeURIComponent(u.pathname.replace(/^\//, ''));
    return `${u.hostname || 'localhost'}:${u.port || defaultPort(u.protocol)}${path ? `/${path}` : ''}`;
  } catch {
    return maskUrl(url);
  }
}

function defaultPort(protocol: string): string {
  switch (protocol) {
    case 'postgres:':
    case 'postgresql:':
      return '5432';
    case 'amqp:':
      return '5672';
    case 'amqps:':
      return '5671';
    default:
      return '';
  }
}

/** The mask pino and our own messages use for secret values. */
export const SECRET_MASK = '[REDACTED]';
