/**
 * One HTTP/1.1 POST over a unix socket, written on node:net: all the plugin asks of HTTP is
 * kube-ovn's daemon's one request per invocation, and node:http costs every pod ~4.5 ms of
 * start-up (it also cannot be part of the single executable's start-up snapshot on Node 20).
 * Read as Go's net/http server writes: a status line, headers, then a body framed by
 * Content-Length, by chunked transfer coding, or by the connection's end ("Connection: close").
 */
import { connect } from 'node:net';

export interface HttpAnswer {
  status: number;
  /** At most `maxBody` bytes of the body. */
  body: string;
  /** The body went past `maxBody`; the rest was not read. */
  oversize: boolean;
}

/** A failure before a whole answer: `code` as Node's socket errors have it (ENOENT, ECONNREFUSED, ECONNRESET, …). */
export class HttpError extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
  }
}

/** The status line and headers of a real answer are a few hundred bytes. */
const MAX_HEAD_BYTES = 64 * 1024;

export function postUnix(socketPath: string, path: string, json: Buffer, opts: { timeoutMs: number; maxBody: number; onTimeout: () => Error }): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const sock = connect({ path: socketPath }); // an object: a string like "6640" would mean a TCP port
    const reader = new AnswerReader(opts.maxBody);
    let settled = false;
    const finish = (err: Error | undefined, answer?: HttpAnswer) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      if (err) reject(err);
      else resolve(answer!);
    };
    const timer = setTimeout(() => finish(opts.onTimeout()), opts.timeoutMs);
    // write, not end: a half-closed connection reads as the client gone, to Node's server and
    // to Go's, which cancels the request's context under the handler.
    sock.on('connect', () => {
      sock.write(Buffer.concat([Buffer.from(`POST ${path} HTTP/1.1\r\nHost: dummy\r\nContent-Type: application/json\r\nContent-Length: ${json.length}\r\nConnection: close\r\n\r\n`, 'latin1'), json]));
    });
    sock.on('data', (chunk: Buffer) => {
      try {
        const answer = reader.push(chunk);
        if (answer) finish(undefined, answer);
      } catch (err) {
        finish(err as Error);
      }
    });
    sock.on('end', () => {
      try {
        finish(undefined, reader.end());
      } catch (err) {
        finish(err as Error);
      }
    });
    sock.on('error', (err: NodeJS.ErrnoException) => finish(new HttpError(err.code ?? 'EIO', err.message)));
  });
}

/** The bytes of one answer as they arrive; `push` and `end` return it once it is whole. */
export class AnswerReader {
  private buf: Buffer = Buffer.alloc(0);
  private head: { status: number; length?: number; chunked: boolean } | undefined;
  private body: Buffer[] = [];
  private size = 0;
  /** Chunked coding: what comes next, and how much of the current chunk's data is still to come. */
  private chunk: 'size' | 'data' | 'crlf' = 'size';
  private chunkLeft = 0;

  constructor(private readonly maxBody: number) {}

  push(chunk: Buffer): HttpAnswer | undefined {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    if (!this.head && !this.readHead()) return undefined;
    return this.readBody();
  }

  /** The connection ended: a body without framing ends here; anything else was cut short. */
  end(): HttpAnswer {
    if (this.head && this.head.length === undefined && !this.head.chunked) {
      this.take(this.buf);
      return this.answer(false);
    }
    throw new HttpError('ECONNRESET', this.head ? 'the connection closed in the middle of the answer' : 'the connection closed before an answer');
  }

  private readHead(): boolean {
    for (;;) {
      const end = this.buf.indexOf('\r\n\r\n');
      if (end < 0) {
        if (this.buf.length > MAX_HEAD_BYTES) throw new HttpError('EPROTO', `an answer whose headers pass ${MAX_HEAD_BYTES} bytes`);
        return false;
      }
      const lines = this.buf.subarray(0, end).toString('latin1').split('\r\n');
      this.buf = this.buf.subarray(end + 4);
      const m = /^HTTP\/1\.[01] (\d{3})(?: |$)/.exec(lines[0]!);
      if (!m) throw new HttpError('EPROTO', `not an HTTP answer: ${JSON.stringify(lines[0]!.slice(0, 80))}`);
      const status = Number(m[1]);
      if (status >= 100 && status < 200) continue; // an interim answer; the real one follows
      let length: number | undefined;
      let chunked = false;
      for (const line of lines.slice(1)) {
        const colon = line.indexOf(':');
        const name = line.slice(0, colon).trim().toLowerCase();
        const value = line.slice(colon + 1).trim();
        if (name === 'content-length') {
          if (!/^\d{1,15}$/.test(value) || (length !== undefined && length !== Number(value))) throw new HttpError('EPROTO', `a malformed Content-Length: ${JSON.stringify(value.slice(0, 40))}`);
          length = Number(value);
        } else if (name === 'transfer-encoding') {
          chunked = /(?:^|,)\s*chunked\s*$/i.test(value);
        }
      }
      // HEAD answers and 204/304 have no body, whatever they say.
      this.head = { status, length: status === 204 || status === 304 ? 0 : chunked ? undefined : length, chunked: chunked && status !== 204 && status !== 304 };
      return true;
    }
  }

  private readBody(): HttpAnswer | undefined {
    const head = this.head!;
    if (head.length !== undefined) {
      const n = Math.min(this.buf.length, head.length - this.size);
      if (this.take(this.buf.subarray(0, n))) return this.answer(true);
      this.buf = this.buf.subarray(n);
      return this.size >= head.length ? this.answer(false) : undefined;
    }
    if (!head.chunked) {
      const all = this.buf;
      this.buf = Buffer.alloc(0);
      return this.take(all) ? this.answer(true) : undefined;
    }
    for (;;) {
      if (this.chunk === 'size') {
        const eol = this.buf.indexOf('\r\n');
        if (eol < 0) {
          if (this.buf.length > 1024) throw new HttpError('EPROTO', 'a chunk size line longer than 1 KiB');
          return undefined;
        }
        const size = /^([0-9a-fA-F]{1,8})(?:;.*)?$/.exec(this.buf.subarray(0, eol).toString('latin1'));
        if (!size) throw new HttpError('EPROTO', 'a malformed chunk size');
        this.buf = this.buf.subarray(eol + 2);
        this.chunkLeft = parseInt(size[1]!, 16);
        if (this.chunkLeft === 0) return this.answer(false); // the last chunk; trailers are not needed
        this.chunk = 'data';
      }
      if (this.chunk === 'data') {
        const n = Math.min(this.buf.length, this.chunkLeft);
        if (this.take(this.buf.subarray(0, n))) return this.answer(true);
        this.buf = this.buf.subarray(n);
        this.chunkLeft -= n;
        if (this.chunkLeft > 0) return undefined;
        this.chunk = 'crlf';
      }
      if (this.buf.length < 2) return undefined;
      if (this.buf[0] !== 0x0d || this.buf[1] !== 0x0a) throw new HttpError('EPROTO', 'a chunk not followed by CRLF');
      this.buf = this.buf.subarray(2);
      this.chunk = 'size';
    }
  }

  /** Keeps what fits under maxBody; true when the body went past it. */
  private take(bytes: Buffer): boolean {
    const room = this.maxBody - this.size;
    if (bytes.length > room) {
      this.body.push(bytes.subarray(0, Math.max(0, room)));
      this.size = this.maxBody + 1;
      return true;
    }
    if (bytes.length) this.body.push(bytes);
    this.size += bytes.length;
    return false;
  }

  private answer(oversize: boolean): HttpAnswer {
    return { status: this.head!.status, body: Buffer.concat(this.body).toString('utf8'), oversize };
  }
}
