/**
 * Wait for every promise to settle, then resolve with their values in order, or reject with the
 * first rejection in array order (not the first in time): work started side by side reports
 * the same error as it would one after another, and nothing is left running unobserved.
 */
export async function allInOrder<T extends readonly unknown[] | []>(promises: { readonly [K in keyof T]: Promise<T[K]> }): Promise<T> {
  const settled = await Promise.allSettled(promises as readonly Promise<unknown>[]);
  const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  return settled.map((r) => (r as PromiseFulfilledResult<unknown>).value) as unknown as T;
}
