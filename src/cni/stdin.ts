import { CniError, Code } from './errors.js';

/**
 * The most stdin the plugin reads. Network configurations are a few KiB: a NAD's plugin entry
 * with Multus's runtimeConfig and a prevResult listing a few interfaces is 2–10 KiB; 1 MiB
 * leaves room for any real one and bounds what a hostile one costs.
 */
export const MAX_STDIN = 1 << 20;

/** How long the runtime has to write the configuration and close stdin (runtimes write it at once). */
export const STDIN_TIMEOUT_MS = 10_000;

export interface Stdin {
  text: string;
  /** Why the text is not the whole configuration: too large, or stdin was never closed. */
  problem?: CniError;
}

/** Reads stdin up to MAX_STDIN bytes or STDIN_TIMEOUT_MS, whichever comes first. */
export function readStdin(stream: NodeJS.ReadStream, limit = MAX_STDIN, timeoutMs = STDIN_TIMEOUT_MS): Promise<Stdin> {
  if (stream.isTTY) return Promise.resolve({ text: '' });
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const finish = (problem?: CniError) => {
      clearTimeout(timer);
      stream.off('data', onData).off('end', onEnd).off('error', onError);
      if (problem) stream.destroy();
      resolve({ text: Buffer.concat(chunks).toString('utf8'), problem });
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) return void chunks.push(chunk);
      finish(new CniError(Code.DecodingFailure, `network configuration on stdin is larger than ${limit} bytes`, 'a CNI configuration is a few KiB; the runtime sent something else'));
    };
    const onEnd = () => finish();
    const onError = (err: Error) => finish(new CniError(Code.DecodingFailure, 'network configuration could not be read from stdin', err.message));
    const timer = setTimeout(() => finish(new CniError(Code.DecodingFailure, `stdin was not closed within ${timeoutMs / 1000}s`, 'the runtime writes the network configuration and closes stdin before waiting for the plugin')), timeoutMs);
    stream.on('data', onData).on('end', onEnd).on('error', onError);
  });
}
