import { CniError } from '../../src/cni/errors.js';

/** The CniError that `f` throws; fails the test when it throws nothing or something else. */
export function thrown(f: () => unknown): CniError {
  try {
    f();
  } catch (err) {
    if (err instanceof CniError) return err;
    throw err;
  }
  throw new Error('expected a CniError, but nothing was thrown');
}

/** The object as it reaches stdout: undefined keys gone, as `JSON.stringify` drops them. */
export function wire<T>(value: T): unknown {
  return JSON.parse(JSON.stringify(value));
}
