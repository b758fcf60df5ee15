/**
 * The daemon's answers as Go's net/http writes them, byte for byte, in every framing, and cut
 * at every byte boundary: the reader must give the same answer however the socket splits it.
 */
import { describe, expect, it } from 'vitest';
import { AnswerReader, HttpError, type HttpAnswer } from '../../../src/kubeovn/http.js';

const BODY = '{"protocol":"IPv4","ip_address":"10.16.0.5/16","mac_address":"00:00:00:53:6b:12"}';

// What a kube-ovn daemon (go-restful on net/http) sends for a small answer, and for one past
// its 2 KiB buffer, which net/http sends chunked.
const LENGTH = `HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nDate: Mon, 30 Nov 2026 09:00:00 GMT\r\nContent-Length: ${BODY.length}\r\nConnection: close\r\n\r\n${BODY}`;
const CHUNKED = `HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n10\r\n${BODY.slice(0, 16)}\r\n${(BODY.length - 16).toString(16)};ext=1\r\n${BODY.slice(16)}\r\n0\r\n\r\n`;
const NO_CONTENT = 'HTTP/1.1 204 No Content\r\nDate: Mon, 30 Nov 2026 09:00:00 GMT\r\nConnection: close\r\n\r\n';
const UNFRAMED = `HTTP/1.0 415 Unsupported Media Type\r\nContent-Type: text/plain\r\n\r\n415: Unsupported Media Type`;

/** The answer when `wire` arrives in pieces of `step` bytes, then the connection ends. */
function read(wire: string, step: number, maxBody = 1 << 20): HttpAnswer {
  const r = new AnswerReader(maxBody);
  const bytes = Buffer.from(wire);
  for (let i = 0; i < bytes.length; i += step) {
    const a = r.push(bytes.subarray(i, i + step));
    if (a) return a;
  }
  return r.end();
}

describe('AnswerReader', () => {
  it.each([
    ['Content-Length', LENGTH, { status: 200, body: BODY, oversize: false }],
    ['chunked, with a chunk extension', CHUNKED, { status: 200, body: BODY, oversize: false }],
    ['204 without a body', NO_CONTENT, { status: 204, body: '', oversize: false }],
    ['no framing: the body ends with the connection', UNFRAMED, { status: 415, body: '415: Unsupported Media Type', oversize: false }],
    ['an interim 100 Continue first', `HTTP/1.1 100 Continue\r\n\r\n${LENGTH}`, { status: 200, body: BODY, oversize: false }],
  ])('%s, however the bytes are split', (_, wire, want) => {
    for (const step of [1, 2, 3, 7, 64, wire.length]) expect(read(wire, step)).toEqual(want);
  });

  it('keeps maxBody bytes of a longer body and says so, without waiting for the rest', () => {
    const r = new AnswerReader(10);
    const a = r.push(Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n${'x'.repeat(11)}`));
    expect(a).toEqual({ status: 200, body: 'x'.repeat(10), oversize: true });
    expect(read(CHUNKED, 5, 20)).toEqual({ status: 200, body: BODY.slice(0, 20), oversize: true });
  });

  it.each([
    ['an answer cut short', LENGTH.slice(0, -5), 'ECONNRESET', 'the connection closed in the middle of the answer'],
    ['no answer at all', '', 'ECONNRESET', 'the connection closed before an answer'],
    ['a chunked answer without its last chunk', CHUNKED.slice(0, -5), 'ECONNRESET', 'the connection closed in the middle of the answer'],
    ['not HTTP', 'SSH-2.0-OpenSSH_9.2\r\n\r\n', 'EPROTO', 'not an HTTP answer: "SSH-2.0-OpenSSH_9.2"'],
    ['a malformed Content-Length', 'HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n', 'EPROTO', 'a malformed Content-Length: "-1"'],
    ['two Content-Lengths that disagree', 'HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n', 'EPROTO', 'a malformed Content-Length: "2"'],
    ['a malformed chunk size', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n', 'EPROTO', 'a malformed chunk size'],
    ['a chunk without its CRLF', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabXY', 'EPROTO', 'a chunk not followed by CRLF'],
    ['headers that never end', `HTTP/1.1 200 OK\r\nX: ${'a'.repeat(70_000)}`, 'EPROTO', 'an answer whose headers pass 65536 bytes'],
  ])('refuses %s', (_, wire, code, message) => {
    let thrown: unknown;
    try {
      read(wire, 1000);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(HttpError);
    expect(thrown).toMatchObject({ code, message });
  });
});
