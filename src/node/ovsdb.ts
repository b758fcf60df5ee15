/**
 * A small OVSDB client (RFC 7047: JSON-RPC 1.0 over a unix socket) for the few questions the
 * plugin and the operator CLI ask OVS. node:net only: the plugin ships as one bundle and must
 * not need ovs-vsctl.
 */
import { connect, type Socket } from 'node:net';
import * as z from 'zod/mini';
import { CniError, Code, firstLine } from '../cni/errors.js';
import { bounded, preview } from '../cni/preview.js';

export interface Ovsdb {
  hwOffload(): Promise<HwOffloadAnswer>;
  deletePort(bridge: string, port: string): Promise<'deleted' | 'absent'>;
  portExists(port: string): Promise<boolean>;
  /** The external_ids of the OVS Interface of this name (kube-ovn writes pod_netns, iface-id, …); undefined when none. */
  interfaceExternalIds(name: string): Promise<Record<string, string> | undefined>;
  /** The OVS Port of this name: its bridge and its Interface's external_ids; undefined when there is no such port. */
  portBinding(port: string): Promise<PortBinding | undefined>;
}
export interface PortBinding {
  /** The bridge whose ports include it. A Port no bridge holds is collected at commit, so undefined is a race at most. */
  bridge: string | undefined;
  /** external_ids of the Interface of the port's name (kube-ovn's port has one); undefined when there is none. */
  externalIds: Record<string, string> | undefined;
}
export type HwOffloadAnswer = { reachable: true; value: string | undefined } | { reachable: false; why: string };

// Wire shapes. OVSDB writes a uuid as ["uuid", "…"] and a map as ["map", [[k, v], …]].
const Uuid = z.tuple([z.literal('uuid'), z.string()]);
const Name = z.object({ name: z.string() });
// A set of one is written as its element: ["uuid", "…"]; of any other size ["set", [["uuid", "…"], …]].
const UuidSet = z.union([Uuid, z.tuple([z.literal('set'), z.array(Uuid)])]);
const uuidsOf = (set: z.infer<typeof UuidSet>): string[] => (set[0] === 'uuid' ? [set[1]] : set[1].map(([, u]) => u));
const StringMap = z.tuple([z.literal('map'), z.array(z.tuple([z.string(), z.string()]))]);
const Message = z.object({ id: z.optional(z.unknown()), method: z.optional(z.string()), params: z.optional(z.unknown()), result: z.optional(z.unknown()), error: z.optional(z.unknown()) });
// An operation that was not reached after an earlier failure may come back as null.
const OpResult = z.nullable(z.object({ rows: z.optional(z.array(z.record(z.string(), z.unknown()))), count: z.optional(z.number()), error: z.optional(z.string()), details: z.optional(z.string()) }));
type OpResult = z.infer<typeof OpResult>;
type Request = (method: string, params: unknown[]) => Promise<unknown>;

/**
 * Nobody answered: no socket, refused, silent, or the connection closed (EOF or reset) before
 * a whole reply, as when ovsdb-server is restarting. A warning for hwOffload, never a garbage error.
 */
class Unreachable extends Error {}

/**
 * Bounds on one message from the server. Our selects read one Open_vSwitch row's other_config
 * or one Interface's external_ids: a few hundred bytes, nested about 9 deep (message, result,
 * op result, rows, row, ["map", pairs], pair, ["uuid", …]). Past either bound the server is
 * refused as garbage (5), before the message is parsed: a garbage server must not grow the
 * buffer for ever, nor nest deep enough to overflow the stack of whatever walks the value.
 */
export const MAX_OVSDB_REPLY_BYTES = 1 << 20;
export const MAX_OVSDB_REPLY_DEPTH = 64;

export function ovsdbClient(socketPath: string, timeoutMs: number): Ovsdb {
  const malformed = (what: string) => new CniError(Code.IOFailure, `OVSDB at ${socketPath} answered garbage: ${what}`, `is ${socketPath} the ovsdb-server socket? \`ovs-vsctl --db=unix:${socketPath} show\``);
  const parse = <T>(schema: z.ZodMiniType<T>, value: unknown, what: string): T => {
    const r = schema.safeParse(value);
    if (!r.success) throw malformed(`${what}: ${preview(value, 120)}`);
    return r.data;
  };
  const transact = async (request: Request, ops: object[]): Promise<OpResult[]> => {
    const results = parse(z.array(OpResult), await request('transact', ['Open_vSwitch', ...ops]), 'transact result');
    if (results.length < ops.length) throw malformed(`${results.length} results for ${ops.length} operations`);
    return results;
  };
  // Any failed operation, or the extra trailing entry for a commit-time failure, fails the whole.
  const check = (results: OpResult[]): OpResult[] => {
    const failed = results.find((r) => r?.error !== undefined);
    if (failed) throw new CniError(Code.IOFailure, `OVSDB at ${socketPath} refused the transaction: ${bounded(firstLine(failed.error ?? ''), 200)}`, bounded(failed.details ?? '', 1000));
    return results;
  };
  const rows = (r: OpResult | undefined) => {
    if (!r?.rows) throw malformed('a select without rows');
    return r.rows;
  };
  const session = <T>(work: (request: Request) => Promise<T>) => withConnection(socketPath, timeoutMs, malformed, work);
  // deletePort and portExists cannot answer without OVSDB, so for them unreachable is an error.
  const reached = async <T>(work: (request: Request) => Promise<T>): Promise<T> => {
    try {
      return await session(work);
    } catch (err) {
      if (!(err instanceof Unreachable)) throw err;
      throw new CniError(Code.IOFailure, `OVSDB at ${socketPath} is unreachable: ${err.message}`, 'is ovsdb-server running? `systemctl status openvswitch-switch`');
    }
  };
  const selectPort = (port: string) => ({ op: 'select', table: 'Port', where: [['name', '==', port]], columns: ['_uuid'] });

  return {
    async hwOffload() {
      try {
        const found = await session(async (request) => rows(check(await transact(request, [{ op: 'select', table: 'Open_vSwitch', where: [], columns: ['other_config'] }]))[0]));
        // No row at all means `ovs-vsctl init` never ran: hw-offload is as unset as it can be.
        const config = found[0] === undefined ? [] : parse(StringMap, found[0].other_config, 'other_config')[1];
        return { reachable: true, value: config.find(([key]) => key === 'hw-offload')?.[1] };
      } catch (err) {
        if (err instanceof Unreachable) return { reachable: false, why: err.message };
        throw err;
      }
    },

    interfaceExternalIds: (name) =>
      reached(async (request) => {
        const found = rows(check(await transact(request, [{ op: 'select', table: 'Interface', where: [['name', '==', name]], columns: ['external_ids'] }]))[0]);
        if (found[0] === undefined) return undefined;
        return Object.fromEntries(parse(StringMap, found[0].external_ids, 'Interface.external_ids')[1]);
      }),

    portBinding: (port) =>
      reached(async (request) => {
        // One transaction is one consistent view: the port, every bridge's port set (a bridge
        // names its ports by uuid) and the port's Interface, read together.
        const [ports, bridges, ifaces] = check(await transact(request, [
          { op: 'select', table: 'Port', where: [['name', '==', port]], columns: ['_uuid'] },
          { op: 'select', table: 'Bridge', where: [], columns: ['name', 'ports'] },
          { op: 'select', table: 'Interface', where: [['name', '==', port]], columns: ['external_ids'] },
        ]));
        const found = rows(ports)[0];
        if (found === undefined) return undefined;
        const [, uuid] = parse(Uuid, found._uuid, 'Port._uuid');
        const holding = rows(bridges).filter((b) => uuidsOf(parse(UuidSet, b.ports, 'Bridge.ports')).includes(uuid));
        const iface = rows(ifaces)[0];
        return {
          bridge: holding.map((b) => parse(Name, b, 'Bridge.name').name).sort()[0],
          externalIds: iface && Object.fromEntries(parse(StringMap, iface.external_ids, 'Interface.external_ids')[1]),
        };
      }),

    portExists: (port) => reached(async (request) => rows(check(await transact(request, [selectPort(port)]))[0]).length > 0),

    deletePort: (bridge, port) =>
      reached(async (request) => {
        // A mutation names a row only by uuid, so it is read first; the waits below make the
        // write fail, not misfire, when the port was renamed, removed or moved in between.
        for (let attempt = 0; attempt < 3; attempt++) {
          const found = rows(check(await transact(request, [selectPort(port)]))[0]);
          if (found[0] === undefined) return 'absent';
          const uuid = parse(Uuid, found[0]._uuid, 'Port._uuid');
          const results = await transact(request, [
            { op: 'wait', table: 'Port', where: [['_uuid', '==', uuid]], columns: ['name'], until: '==', rows: [{ name: port }], timeout: 0 },
            { op: 'wait', table: 'Bridge', where: [['name', '==', bridge], ['ports', 'includes', uuid]], columns: ['name'], until: '==', rows: [{ name: bridge }], timeout: 0 },
            // Port and Interface are not root tables: dropping the last reference garbage-collects
            // the Port row and its Interfaces at commit, so no explicit delete is needed.
            { op: 'mutate', table: 'Bridge', where: [['name', '==', bridge]], mutations: [['ports', 'delete', ['set', [uuid]]]] },
          ]);
          if (results[0]?.error === 'timed out') continue; // the port changed under us: look again
          if (results[1]?.error === 'timed out') {
            throw new CniError(Code.IOFailure, `OVS port ${port} is not on bridge ${bridge}`, `nothing was changed; \`ovs-vsctl port-to-br ${port}\` names its bridge`);
          }
          check(results);
          return 'deleted';
        }
        throw new CniError(Code.IOFailure, `OVS port ${port} kept changing while it was being deleted`, `\`ovs-vsctl --if-exists del-port ${bridge} ${port}\``);
      }),
  };
}

/** Opens the socket, lets `work` send requests one at a time, and always closes it. */
async function withConnection<T>(socketPath: string, timeoutMs: number, malformed: (what: string) => CniError, work: (request: Request) => Promise<T>): Promise<T> {
  const sock = await new Promise<Socket>((resolve, reject) => {
    const s = connect({ path: socketPath }); // an object: a string like "6640" would mean a TCP port
    const timer = setTimeout(() => (s.destroy(), reject(new Unreachable(`no connection to ${socketPath} within ${timeoutMs} ms`))), timeoutMs);
    s.once('error', (err) => (clearTimeout(timer), reject(new Unreachable(err.message)))); // "connect ENOENT /run/…"
    s.once('connect', () => (clearTimeout(timer), s.removeAllListeners('error'), resolve(s)));
  });
  let buffer = '';
  let nextId = 0;
  let failure: Error | undefined;
  let waiting: { id: number; settle: (err: Error | undefined, result?: unknown) => void } | undefined;
  const fail = (err: Error) => {
    failure ??= err;
    waiting?.settle(failure);
    sock.destroy();
  };
  const receive = (text: string) => {
    let msg: unknown;
    try {
      msg = JSON.parse(text);
    } catch {
      return fail(malformed(`not JSON: ${preview(text, 120)}`));
    }
    const m = Message.safeParse(msg);
    if (!m.success) return fail(malformed(`not a JSON-RPC message: ${preview(msg, 120)}`));
    // The server may probe an idle client with echo; an unanswered echo ends the session.
    if (m.data.method === 'echo') return void sock.write(JSON.stringify({ id: m.data.id, result: m.data.params ?? [], error: null }));
    if (waiting === undefined || m.data.id !== waiting.id) return; // a notification, or a stale reply
    const { error, result } = m.data;
    if (error !== null && error !== undefined) return waiting.settle(new CniError(Code.IOFailure, `OVSDB at ${socketPath} refused the request: ${preview(error)}`));
    waiting.settle(undefined, result);
  };
  let pending = 0; // bytes in `buffer`, which holds characters
  const tooBig = () => malformed(`a reply over ${MAX_OVSDB_REPLY_BYTES} bytes`);
  sock.setEncoding('utf8'); // multi-byte characters split across chunks are joined for us
  sock.on('data', (chunk: string) => {
    buffer += chunk;
    pending += Buffer.byteLength(chunk);
    for (let cut = cutObject(buffer); cut !== undefined && !failure; cut = cutObject(buffer)) {
      if (cut === 'garbage') return fail(malformed(`not JSON: ${preview(buffer.trim(), 120)}`));
      if (cut === 'too deep') return fail(malformed(`a reply nested deeper than ${MAX_OVSDB_REPLY_DEPTH} levels`));
      const taken = Buffer.byteLength(buffer.slice(0, buffer.length - cut.rest.length));
      if (taken > MAX_OVSDB_REPLY_BYTES) return fail(tooBig());
      buffer = cut.rest;
      pending -= taken;
      receive(cut.text);
    }
    if (pending > MAX_OVSDB_REPLY_BYTES) fail(tooBig());
  });
  // A connection that ends before a whole reply is an OVSDB going away (a restart, a crash),
  // like one that never answers; bytes that are not OVSDB were refused above, as garbage.
  const cutShort = (how: string) => new Unreachable(`${socketPath} ${how} ${buffer.trim() === '' ? 'before replying' : `in the middle of a reply (${pending} bytes)`}`);
  sock.on('error', (err: NodeJS.ErrnoException) =>
    fail(err.code === 'ECONNRESET' || err.code === 'EPIPE' ? cutShort(`reset the connection (${err.code})`) : new CniError(Code.IOFailure, `OVSDB at ${socketPath} failed: ${err.message}`)),
  );
  sock.on('close', () => fail(cutShort('closed the connection')));

  const request: Request = (method, params) =>
    new Promise((resolve, reject) => {
      if (failure) return reject(failure);
      const id = nextId++;
      const timer = setTimeout(() => fail(new Unreachable(`no answer from ${socketPath} within ${timeoutMs} ms`)), timeoutMs);
      waiting = { id, settle: (err, result) => (clearTimeout(timer), (waiting = undefined), err ? reject(err) : resolve(result)) };
      sock.write(JSON.stringify({ method, params, id }));
    });
  try {
    return await work(request);
  } finally {
    failure ??= new Error('session closed');
    sock.destroy();
  }
}

/**
 * The first complete JSON object in `buf`: OVSDB sends objects back to back with no framing.
 * 'too deep' as soon as it nests past MAX_OVSDB_REPLY_DEPTH, complete or not.
 */
function cutObject(buf: string): { text: string; rest: string } | 'garbage' | 'too deep' | undefined {
  const start = buf.search(/\S/);
  if (start < 0) return undefined;
  if (buf[start] !== '{') return 'garbage';
  let depth = 0;
  let inString = false;
  let escaped = false;
  for (let i = start; i < buf.length; i++) {
    const c = buf[i];
    if (inString) {
      if (escaped) escaped = false;
      else if (c === '\\') escaped = true;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if ((c === '{' || c === '[') && ++depth > MAX_OVSDB_REPLY_DEPTH) return 'too deep';
    else if ((c === '}' || c === ']') && --depth === 0) return { text: buf.slice(start, i + 1), rest: buf.slice(i + 1) };
  }
  return undefined;
}
