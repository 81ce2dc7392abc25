/**
 * Why a pinned release could not be made local. `invalid`: the release itself is bad (digest
 * mismatch, an archive the rules refuse, a bad id/digest) — the same bytes would fail again, so
 * the execution fails. `unavailable`: the API or the local disk is the problem (HTTP error,
 * timeout, connection closed, disk full) — worth trying again later.
 */
export class PackReleaseError extends Error {
  constructor(
    message: string,
    readonly kind: 'invalid' | 'unavailable',
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'PackReleaseError';
  }
}
