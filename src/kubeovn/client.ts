import { connect } from 'node:net';
import { CniError, Code, firstLine } from '../cni/errors.js';
import { bounded, preview } from '../cni/preview.js';
import { CniResponse, type CniRequest } from './protocol.js';
import { HttpError, postUnix, type HttpAnswer } from './http.js';

/**
 * Bounds on what the daemon sends. kube-ovn's ADD answer is a few hundred bytes (an ips[] entry
 * per family, the MAC, the pod NIC's routes, mtu, nicname, dns; well under 4 KiB even with many
 * routes) and its refusals one Go error line. 1 MiB is hundreds of times that, and still bounds
 * what the plugin holds in memory: past it the request is destroyed. Its answers nest 3 deep.
 */
export const MAX_DAEMON_BODY_BYTES = 1 << 20;
export const MAX_DAEMON_BODY_DEPTH = 64;
/** The daemon's error text as shown: its first line cut to this in msg, and this much in details. */
export const MAX_DAEMON_ERROR_MSG = 240;
export const MAX_DAEMON_ERROR_DETAILS = 4096;

export interface DaemonClient {
  add(req: CniRequest): Promise<CniResponse>;
  del(req: CniRequest): Promise<void>;
}

/** The daemon said 200 (so it may have plumbed the pod) but its answer cannot be read. */
export class DaemonAnswerError extends CniError {}

/** The daemon answered with a refusal; `plumbing` when it came after the daemon began on the pod's NIC. */
class DaemonRefusal extends CniError {
  constructor(code: CniError['code'], msg: string, details: string, readonly plumbing: boolean) {
    super(code, msg, details);
  }
}

/** Nothing listened on the socket: the request never reached a daemon. */
class DaemonUnreachable extends CniError {}

/**
 * Whether the daemon may have changed the node before this error: not when nothing listened,
 * nor for a refusal from before its NIC work ("configure nic … failed" comes from within it);
 * a timeout, a reset connection or an unreadable 200 may hide anything.
 */
export function daemonMayHaveActed(err: unknown): boolean {
  if (err instanceof DaemonUnreachable) return false;
  if (err instanceof DaemonRefusal) return err.plumbing;
  return true;
}

/** The kube-ovn daemon over its unix socket, as kube-ovn's own binary talks to it. */
export function daemonClient(socketPath: string, timeoutMs: number): DaemonClient {
  return {
    async add(req) {
      const answer = await post(socketPath, '/api/v1/add', req, timeoutMs);
      const { status, body } = answer;
      if (status !== 200) throw rpcError('add', answer, socketPath, req);
      // A 200 that cannot be read may still have plumbed the pod: DaemonAnswerError, so ADD rolls back.
      const unreadable = (msg: string, shown: string) => new DaemonAnswerError(Code.TryAgainLater, `kube-ovn daemon answered ADD ${msg}`, `POST /api/v1/add on ${socketPath} returned 200: ${shown}; see the kube-ovn-cni pod's log on this node`);
      if (answer.oversize) throw unreadable(`with more than ${MAX_DAEMON_BODY_BYTES} bytes`, `no kube-ovn answer comes near this size (they are under 4 KiB); it began ${preview(body, 200)}`);
      if (body.trim() === '') throw unreadable('with an empty body', 'no JSON');
      if (nestsDeeperThan(body, MAX_DAEMON_BODY_DEPTH)) throw unreadable(`nested deeper than ${MAX_DAEMON_BODY_DEPTH} levels`, preview(body, 200));
      let doc: unknown;
      try {
        doc = JSON.parse(body);
      } catch {
        throw unreadable('with malformed JSON', preview(body, 200));
      }
      const parsed = CniResponse.safeParse(doc);
      if (!parsed.success) throw unreadable('in an unknown shape', preview(doc, 200));
      return parsed.data;
    },
    async del(req) {
      const answer = await post(socketPath, '/api/v1/del', req, timeoutMs);
      if (answer.status !== 204 && answer.status !== 200) throw rpcError('del', answer, socketPath, req);
    },
  };
}

// The router's own refusals: no such endpoint, method, media type. Another daemon version
// or a wrong socket; retrying will not help. Everything else kube-ovn's binary calls "try again".
const PROTOCOL_MISMATCH = new Set([404, 405, 406, 415]);

// Names in the daemon's texts are Kubernetes names (at most 253 characters) and netdevs (15):
// a longer word is no name of kube-ovn's, and would not fit a one-line msg.
// handler.go handleAdd: "provider default.default.ovn is not bound to any subnet" (v1.15.18+,
// v1.16.3+, HEAD), "provider x.y not bind to any subnet" (older, for non-OVN providers).
const NO_SUBNET = /^provider (\S{1,253}) (?:is not bound|not bind) to any subnet/;
// handleAdd after its 20 × 1 s wait: "no address allocated to pod default/web-0 provider default.default.ovn, please see …".
const NO_ADDRESS = /^no address allocated to pod (\S{1,507}) provider (\S{1,253}?),/;
// configureNic after 30 s: "configure nic eth0 for pod web-0/default failed: ovs interface 5b45c61b307e_h is not ready after 30s".
const NOT_READY = /ovs interface (\S{1,253}) is not ready after (\S{1,32})/;

/** The daemon's refusal as a CNI error that names its cause and fix, where kube-ovn's text is known. */
function rpcError(op: 'add' | 'del', answer: HttpAnswer, socket: string, req: CniRequest): CniError {
  const { status } = answer;
  const text = bounded(daemonErrorText(answer), MAX_DAEMON_ERROR_DETAILS);
  const said = `POST /api/v1/${op} on ${socket} returned ${status}: ${text}`;
  const refused = `kube-ovn daemon refused ${op.toUpperCase()} (HTTP ${status})`;
  const shown = bounded(firstLine(text), MAX_DAEMON_ERROR_MSG);
  if (answer.oversize) {
    // Its error cannot be read, so neither can whether it had begun on the pod's NIC: assume so.
    return new DaemonRefusal(PROTOCOL_MISMATCH.has(status) ? Code.InvalidConfig : Code.TryAgainLater, `${refused} with more than ${MAX_DAEMON_BODY_BYTES} bytes: ${shown}`, `${said}; the rest was not read`, true);
  }
  const refusal = (code: CniError['code'], msg: string, details: string) => new DaemonRefusal(code, msg, details, status === 500 && text.startsWith('configure nic'));
  const noSubnet = status === 400 ? NO_SUBNET.exec(text) : null;
  if (noSubnet) {
    // The daemon compares the provider without a ".<ifname>" suffix (providerExists).
    const given = noSubnet[1]!;
    const provider = given.endsWith(`.${req.if_name}`) ? given.slice(0, -req.if_name.length - 1) : given;
    return refusal(Code.InvalidConfig, `kube-ovn has no Subnet for provider ${provider}`, `${said}. kube-ovn refuses a provider that no Subnet's spec.provider names (v1.15.18+, v1.16.3+ and later: any provider but "ovn"; older releases: any that is not <nad>.<namespace>.ovn). Create a Subnet with spec.provider ${provider} (\`kube-ovn-offload manifests --topology guard\` prints one), or use provider "ovn" in a clusterNetwork layout`);
  }
  const noAddress = status === 500 ? NO_ADDRESS.exec(text) : null;
  if (noAddress) {
    const [, pod = '', provider = ''] = noAddress;
    return refusal(Code.TryAgainLater, `kube-ovn allocated no address to pod ${pod} for provider ${provider}`, `${said}. kube-ovn-controller allocates for a NetworkAttachmentDefinition only when one of its plugins has "type": "kube-ovn" (IsOvnNetwork), under provider <nad>.<namespace>.ovn; and for provider "ovn" only to pods without the v1.multus-cni.io/default-network annotation. Check that the NAD keeps kube-ovn in its plugin list and that provider ${provider} matches it, then kube-ovn-controller's log: kubectl -n kube-system logs deploy/kube-ovn-controller | grep ${pod.split('/').pop()}`);
  }
  const notReady = status === 500 ? NOT_READY.exec(text) : null;
  if (notReady) {
    const [, port, after] = notReady;
    return refusal(Code.TryAgainLater, `ovn-controller did not bind port ${port} within ${after}`, `${said}. The daemon waits for external_ids:ovn-installed=true, which ovn-controller sets once it has bound the pod's logical switch port; look at the ovs-ovn pod on this node (kubectl -n kube-system logs <ovs-ovn pod on this node>) and \`ovs-vsctl get interface ${port} external_ids\``);
  }
  const code = PROTOCOL_MISMATCH.has(status) ? Code.InvalidConfig : Code.TryAgainLater;
  return refusal(code, `${refused}: ${shown}`, said);
}

/** The daemon's `error` field when the body is its JSON, else the raw (plain-text router) body. */
function daemonErrorText({ body, oversize }: HttpAnswer): string {
  try {
    const doc = oversize || nestsDeeperThan(body, MAX_DAEMON_BODY_DEPTH) ? undefined : (JSON.parse(body) as { error?: unknown } | null);
    if (typeof doc?.error === 'string' && doc.error) return doc.error;
  } catch {
    /* go-restful's router errors are plain text */
  }
  return body.trim() || '(empty body)';
}

/**
 * Whether JSON text nests past `max` arrays and objects, read without parsing it: whatever
 * walks a parsed value (zod, JSON.stringify, a log line) must never meet one deep enough to
 * overflow the stack.
 */
function nestsDeeperThan(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if ((c === '{' || c === '[') && ++depth > max) return true;
    else if (c === '}' || c === ']') depth--;
  }
  return false;
}

async function post(socketPath: string, path: string, payload: CniRequest, timeoutMs: number): Promise<HttpAnswer> {
  const onTimeout = () => new CniError(Code.TryAgainLater, `kube-ovn daemon did not answer within ${timeoutMs / 1000}s`, `POST ${path} on ${socketPath}; raise daemon_timeout_s or see the kube-ovn-cni pod's log on this node`);
  try {
    return await postUnix(socketPath, path, Buffer.from(JSON.stringify(payload)), { timeoutMs, maxBody: MAX_DAEMON_BODY_BYTES, onTimeout });
  } catch (err) {
    throw err instanceof HttpError ? transportError(err, socketPath, path) : err;
  }
}

function transportError(err: HttpError, socket: string, path: string): CniError {
  const why =
    err.code === 'ENOENT' ? `kube-ovn daemon socket ${socket} does not exist`
    : err.code === 'ECONNREFUSED' ? `kube-ovn daemon socket ${socket} refused the connection`
    : `kube-ovn daemon connection failed: ${err.code ?? err.message}`;
  const details = `POST ${path}: ${err.message}. Is the kube-ovn-cni pod running on this node? (kubectl -n kube-system get pods -l app=kube-ovn-cni -o wide)`;
  const unreachable = err.code === 'ENOENT' || err.code === 'ECONNREFUSED';
  return unreachable ? new DaemonUnreachable(Code.TryAgainLater, why, details) : new CniError(Code.TryAgainLater, why, details);
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
