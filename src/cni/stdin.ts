import { fstatSync, read } from 'node:fs';
import { isatty } from 'node:tty';
import { promisify } from 'node:util';
import { CniError, Code } from './errors.js';

const readFd = promisify(read);

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

/**
 * Reads stdin (fd 0) up to MAX_STDIN bytes or STDIN_TIMEOUT_MS, whichever comes first. Read
 * with fs.read rather than through process.stdin, whose stream and pipe handle cost every pod
 * ~3 ms of start-up; a non-blocking fd (EAGAIN) is left to process.stdin. A read still pending
 * at the timeout keeps the process alive: the caller ends it with process.exit.
 */
export async function readStdin(fd = 0, limit = MAX_STDIN, timeoutMs = STDIN_TIMEOUT_MS): Promise<Stdin> {
  if (fstatSync(fd).isCharacterDevice() && isatty(fd)) return { text: '' };
  // What has arrived so far is kept with a problem too: its cniVersion, if any, shapes the error.
  const chunks: Buffer[] = [];
  const text = () => Buffer.concat(chunks).toString('utf8');
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<Stdin>((resolve) => {
    timer = setTimeout(() => resolve({ text: text(), problem: notClosed(timeoutMs) }), timeoutMs);
  });
  const readAll = async (): Promise<Stdin> => {
    let size = 0;
    for (;;) {
      const buf = Buffer.allocUnsafe(64 * 1024);
      const { bytesRead } = await readFd(fd, buf, 0, buf.length, null);
      if (bytesRead === 0) return { text: text() };
      size += bytesRead;
      if (size > limit) return { text: text(), problem: tooLarge(limit) };
      chunks.push(buf.subarray(0, bytesRead));
    }
  };
  try {
    return await Promise.race([readAll(), late]);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EAGAIN' && chunks.length === 0) return readStream(process.stdin, limit, timeoutMs);
    return { text: text(), problem: unreadable(err as Error) };
  } finally {
    clearTimeout(timer);
  }
}

/** process.stdin, for a non-blocking fd. */
function readStream(stream: NodeJS.ReadStream, limit: number, timeoutMs: number): Promise<Stdin> {
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
      finish(tooLarge(limit));
    };
    const onEnd = () => finish();
    const onError = (err: Error) => finish(unreadable(err));
    const timer = setTimeout(() => finish(notClosed(timeoutMs)), timeoutMs);
    stream.on('data', onData).on('end', onEnd).on('error', onError);
  });
}

const tooLarge = (limit: number) => new CniError(Code.DecodingFailure, `network configuration on stdin is larger than ${limit} bytes`, 'a CNI configuration is a few KiB; the runtime sent something else');
const notClosed = (ms: number) => new CniError(Code.DecodingFailure, `stdin was not closed within ${ms / 1000}s`, 'the runtime writes the network configuration and closes stdin before waiting for the plugin');
const unreadable = (err: Error) => new CniError(Code.DecodingFailure, 'network configuration could not be read from stdin', err.message);
