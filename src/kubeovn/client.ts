import { connect } from 'node:net';
import { request } from 'node:http';
import { CniError, Code } from '../cni/errors.js';
import { CniResponse, type CniRequest } from './protocol.js';

export interface DaemonClient {
  add(req: CniRequest): Promise<CniResponse>;
  del(req: CniRequest): Promise<void>;
}

/** The daemon said 200 (so it may have plumbed the pod) but its answer cannot be read. */
export class DaemonAnswerError extends CniError {}

interface HttpAnswer {
  status: number;
  body: string;
}

/** The kube-ovn daemon over its unix socket, as kube-ovn's own binary talks to it. */
export function daemonClient(socketPath: string, timeoutMs: number): DaemonClient {
  return {
    async add(req) {
      const { status, body } = await post(socketPath, '/api/v1/add', req, timeoutMs);
      if (status !== 200) throw rpcError('add', status, daemonErrorText(body), socketPath);
      if (body.trim() === '') throw new DaemonAnswerError(Code.TryAgainLater, 'kube-ovn daemon answered ADD with an empty body', `POST /api/v1/add on ${socketPath} returned 200 and no JSON; see the kube-ovn-cni pod's log on this node`);
      let doc: unknown;
      try {
        doc = JSON.parse(body);
      } catch {
        throw new DaemonAnswerError(Code.TryAgainLater, 'kube-ovn daemon answered ADD with malformed JSON', `POST /api/v1/add on ${socketPath}: ${JSON.stringify(body.slice(0, 200))}`);
      }
      const parsed = CniResponse.safeParse(doc);
      if (!parsed.success) throw new DaemonAnswerError(Code.TryAgainLater, 'kube-ovn daemon answered ADD in an unknown shape', `POST /api/v1/add on ${socketPath}: ${JSON.stringify(body.slice(0, 200))}`);
      return parsed.data;
    },
    async del(req) {
      const { status, body } = await post(socketPath, '/api/v1/del', req, timeoutMs);
      if (status !== 204 && status !== 200) throw rpcError('del', status, daemonErrorText(body), socketPath);
    },
  };
}

// The router's own refusals: no such endpoint, method, media type. Another daemon version
// or a wrong socket; retrying will not help. Everything else kube-ovn's binary calls "try again".
const PROTOCOL_MISMATCH = new Set([404, 405, 406, 415]);

function rpcError(op: 'add' | 'del', status: number, text: string, socket: string): CniError {
  const code = PROTOCOL_MISMATCH.has(status) ? Code.InvalidConfig : Code.TryAgainLater;
  return new CniError(code, `kube-ovn daemon refused ${op.toUpperCase()} (HTTP ${status}): ${text.split('\n')[0]}`, `POST /api/v1/${op} on ${socket} returned ${status}: ${text}`);
}

/** The daemon's `error` field when the body is its JSON, else the raw (plain-text router) body. */
function daemonErrorText(body: string): string {
  try {
    const doc = JSON.parse(body) as { error?: unknown };
    if (typeof doc.error === 'string' && doc.error) return doc.error;
  } catch {
    /* go-restful's router errors are plain text */
  }
  return body.trim().slice(0, 500) || '(empty body)';
}

function post(socketPath: string, path: string, payload: CniRequest, timeoutMs: number): Promise<HttpAnswer> {
  const data = Buffer.from(JSON.stringify(payload));
  return new Promise((resolve, reject) => {
    const req = request(
      { socketPath, path, method: 'POST', agent: false, headers: { 'Content-Type': 'application/json', 'Content-Length': data.length, Host: 'dummy' } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', (err) => reject(transportError(err, socketPath, path)));
      },
    );
    const timer = setTimeout(() => {
      req.destroy(new CniError(Code.TryAgainLater, `kube-ovn daemon did not answer within ${timeoutMs / 1000}s`, `POST ${path} on ${socketPath}; raise daemon_timeout_s or see the kube-ovn-cni pod's log on this node`));
    }, timeoutMs);
    req.on('error', (err) => reject(err instanceof CniError ? err : transportError(err, socketPath, path)));
    req.on('close', () => clearTimeout(timer));
    req.end(data);
  });
}

function transportError(err: NodeJS.ErrnoException, socket: string, path: string): CniError {
  const why =
    err.code === 'ENOENT' ? `kube-ovn daemon socket ${socket} does not exist`
    : err.code === 'ECONNREFUSED' ? `kube-ovn daemon socket ${socket} refused the connection`
    : `kube-ovn daemon connection failed: ${err.code ?? err.message}`;
  return new CniError(Code.TryAgainLater, why, `POST ${path}: ${err.message}. Is the kube-ovn-cni pod running on this node? (kubectl -n kube-system get pods -l app=kube-ovn-cni -o wide)`);
}

/** Whether the daemon's socket accepts a connection (its own liveness probe does the same). */
export function daemonListening(socketPath: string, timeoutMs: number): Promise<{ ok: true } | { ok: false; why: string }> {
  return new Promise((resolve) => {
    const sock = connect({ path: socketPath }); // an object: a string like "6640" would mean a TCP port
    const done = (r: { ok: true } | { ok: false; why: string }) => {
      clearTimeout(timer);
      sock.destroy();
      resolve(r);
    };
    const timer = setTimeout(() => done({ ok: false, why: `no answer within ${timeoutMs} ms` }), timeoutMs);
    sock.on('connect', () => done({ ok: true }));
    sock.on('error', (err: NodeJS.ErrnoException) => done({ ok: false, why: err.code ?? err.message }));
  });
}
