/** The OVSDB client against a real ovsdb-server, and against sockets that are not OVSDB. */
import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { execa } from 'execa';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MAX_OVSDB_REPLY_BYTES, MAX_OVSDB_REPLY_DEPTH, ovsdbClient } from '../../src/node/ovsdb.js';
import { CniError } from '../../src/cni/errors.js';
import { hasOvsdb, startOvsdb, type OvsdbServer } from '../support/ovsdb-server.js';
import { cniError, useWorld } from '../support/harness.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'kovo-ovsdb-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Servers the current test started, and their connections; each test closes its own, pass or fail. */
const fakes: Server[] = [];
const accepted: Socket[] = [];
afterEach(async () => {
  // A server closes once its connections have; one that never reads would never see the client go.
  for (const sock of accepted.splice(0)) sock.destroy();
  await Promise.all(fakes.splice(0).map((s) => new Promise((r) => s.close(r))));
});

/** A unix-socket server at `path` that hands each connection to `onConnection`; closed after the test. */
async function listen(path: string, onConnection: (sock: Socket) => void, opts: { pauseOnConnect?: boolean } = {}): Promise<string> {
  const server = createServer(opts, (sock) => {
    accepted.push(sock);
    sock.on('error', () => undefined);
    onConnection(sock);
  });
  fakes.push(server);
  await new Promise<void>((resolve) => server.listen(path, resolve));
  return path;
}

/** A fake that answers each request (one per chunk: the client sends one at a time) with `reply(id)`. */
function replying(reply: (id: unknown) => string): (sock: Socket) => void {
  return (sock) => {
    sock.setEncoding('utf8');
    sock.on('data', (request: string) => void sock.write(reply((JSON.parse(request) as { id: unknown }).id)));
  };
}

const deepArray = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);

/** What a rejected promise threw, as { code, msg } for the assertion. */
async function failure(p: Promise<unknown>): Promise<{ code: number; msg: string }> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof CniError)) throw new Error(`expected a CniError, got ${String(err)}`);
  return { code: err.code, msg: err.message };
}

describe.skipIf(!hasOvsdb())('OVSDB client against ovsdb-server', () => {
  let ovs: OvsdbServer | undefined;
  beforeEach(async () => {
    ovs = await startOvsdb(dir);
  });
  afterEach(async () => {
    await ovs?.stop();
    ovs = undefined;
  });
  const server = () => ovs!;
  const client = () => ovsdbClient(server().socket, 5_000);

  it('hwOffload reads undefined when other_config has no hw-offload', async () => {
    expect(await client().hwOffload()).toEqual({ reachable: true, value: undefined });
  });

  it('hwOffload reads "true" once it is set', async () => {
    await server().vsctl('set', 'Open_vSwitch', '.', 'other_config:hw-offload=true');
    expect(await client().hwOffload()).toEqual({ reachable: true, value: 'true' });
  });

  it('hwOffload reads "false" among other keys', async () => {
    await server().vsctl('set', 'Open_vSwitch', '.', 'other_config:hw-offload=false', 'other_config:tc-policy=skip_sw');
    expect(await client().hwOffload()).toEqual({ reachable: true, value: 'false' });
  });

  it('deletePort removes the port and its interface, then finds it absent', async () => {
    await server().vsctl('add-port', 'br-int', 'rep0', '--', 'set', 'interface', 'rep0', 'type=internal');
    expect(await server().vsctl('list-ports', 'br-int')).toBe('rep0');
    expect(await client().portExists('rep0')).toBe(true);

    expect(await client().deletePort('br-int', 'rep0')).toBe('deleted');
    expect(await server().vsctl('list-ports', 'br-int')).toBe('');
    expect(await server().vsctl('--if-exists', 'get', 'port', 'rep0', 'name')).toBe('');
    // The Interface row went with the Port (garbage collection of non-root rows).
    expect(await server().vsctl('--bare', '--columns=name', 'list', 'interface')).toBe('br-int');
    expect(await client().portExists('rep0')).toBe(false);

    expect(await client().deletePort('br-int', 'rep0')).toBe('absent');
  });

  it('deletePort leaves the other ports on the bridge alone', async () => {
    await server().vsctl('add-port', 'br-int', 'rep0', '--', 'set', 'interface', 'rep0', 'type=internal');
    await server().vsctl('add-port', 'br-int', 'rep1', '--', 'set', 'interface', 'rep1', 'type=internal');
    expect(await client().deletePort('br-int', 'rep0')).toBe('deleted');
    expect(await server().vsctl('list-ports', 'br-int')).toBe('rep1');
  });

  it('deletePort refuses a port on another bridge and changes nothing', async () => {
    await server().vsctl('add-br', 'br-ex');
    await server().vsctl('add-port', 'br-ex', 'eth1', '--', 'set', 'interface', 'eth1', 'type=internal');
    expect(await failure(client().deletePort('br-int', 'eth1'))).toEqual({ code: 5, msg: 'OVS port eth1 is not on bridge br-int' });
    expect(await server().vsctl('list-ports', 'br-ex')).toBe('eth1');
  });

  it('portExists is false for a port never added', async () => {
    expect(await client().portExists('nope0')).toBe(false);
  });

  it('interfaceExternalIds reads the keys kube-ovn writes on a port, and nothing for a port never added', async () => {
    await server().vsctl('add-port', 'br-int', 'rep0', '--', 'set', 'interface', 'rep0', 'type=internal',
      'external_ids:iface-id=web-0.default', 'external_ids:pod_netns=/var/run/netns/cni-1234');
    expect(await client().interfaceExternalIds('rep0')).toEqual({ 'iface-id': 'web-0.default', pod_netns: '/var/run/netns/cni-1234' });
    expect(await client().interfaceExternalIds('nope0')).toBeUndefined();
  });

  it('portBinding reads the bridge and the external_ids of a port in one answer, and nothing for a port never added', async () => {
    await server().vsctl('add-port', 'br-int', 'rep0', '--', 'set', 'interface', 'rep0', 'type=internal',
      'external_ids:iface-id=web-0.default', 'external_ids:ovn-installed=true');
    await server().vsctl('add-br', 'br-ex');
    await server().vsctl('add-port', 'br-ex', 'eth1');
    expect(await client().portBinding('rep0')).toEqual({ bridge: 'br-int', externalIds: { 'iface-id': 'web-0.default', 'ovn-installed': 'true' } });
    expect(await client().portBinding('eth1')).toEqual({ bridge: 'br-ex', externalIds: {} });
    expect(await client().portBinding('nope0')).toBeUndefined();
  });
});

describe('OVSDB client when the socket is not a working OVSDB', () => {
  /** A unix-socket server that hands each connection and its requests to `serve`. */
  function fake(serve: (sock: Socket, request: string) => void): Promise<string> {
    return listen(join(dir, 'fake.sock'), (sock) => {
      sock.setEncoding('utf8');
      sock.on('data', (chunk: string) => serve(sock, chunk));
    });
  }

  it('hwOffload: no socket file is unreachable, not an error', async () => {
    const answer = await ovsdbClient(join(dir, 'db.sock'), 1_000).hwOffload();
    expect(answer).toMatchObject({ reachable: false });
    expect(answer.reachable === false && answer.why).toContain('ENOENT');
  });

  it('hwOffload: a socket nobody listens on is unreachable', async () => {
    // A listener killed without cleanup leaves its socket file behind, as a crashed ovsdb-server does.
    const path = join(dir, 'db.sock');
    const script = `require('net').createServer().listen(${JSON.stringify(path)}, () => process.kill(process.pid, 'SIGKILL'))`;
    await execa('node', ['-e', script], { reject: false, timeout: 10_000 });
    expect(existsSync(path)).toBe(true);
    const answer = await ovsdbClient(path, 1_000).hwOffload();
    expect(answer).toMatchObject({ reachable: false });
    expect(answer.reachable === false && answer.why).toContain('ECONNREFUSED');
  });

  it('hwOffload: a server that never answers is unreachable after the timeout', async () => {
    const path = await fake(() => undefined);
    const answer = await ovsdbClient(path, 300).hwOffload();
    expect(answer).toEqual({ reachable: false, why: `no answer from ${path} within 300 ms` });
  });

  it('hwOffload: a server that accepts and closes without a word is unreachable', async () => {
    const path = await listen(join(dir, 'fake.sock'), (sock) => sock.end());
    expect(await ovsdbClient(path, 1_000).hwOffload()).toEqual({ reachable: false, why: `${path} closed the connection before replying` });
  });

  it('hwOffload: a server that closes in the middle of a reply is unreachable', async () => {
    const partial = (id: unknown) => `{"id":${JSON.stringify(id)},"result":[{"rows":[{"other_con`;
    const path = await listen(join(dir, 'fake.sock'), (sock) => {
      sock.setEncoding('utf8');
      sock.on('data', (request: string) => void sock.end(partial((JSON.parse(request) as { id: unknown }).id)));
    });
    const answer = await ovsdbClient(path, 1_000).hwOffload();
    expect(answer).toEqual({ reachable: false, why: `${path} closed the connection in the middle of a reply (${partial(0).length} bytes)` });
  });

  it('hwOffload: a server that resets the connection before replying is unreachable', async () => {
    // Closing with the request still unread makes the kernel reset the client's end (ECONNRESET).
    const path = await listen(join(dir, 'fake.sock'), (sock) => void setTimeout(() => sock.destroy(), 200), { pauseOnConnect: true });
    expect(await ovsdbClient(path, 5_000).hwOffload()).toEqual({ reachable: false, why: `${path} reset the connection (ECONNRESET) before replying` });
  });

  it('deletePort: a server that closes without a word is 5, "unreachable"', async () => {
    const path = await listen(join(dir, 'fake.sock'), (sock) => sock.end());
    expect(await failure(ovsdbClient(path, 1_000).deletePort('br-int', 'rep0'))).toEqual({ code: 5, msg: `OVSDB at ${path} is unreachable: ${path} closed the connection before replying` });
  });

  it.each([
    ['a result', (id: unknown) => `{"id":${JSON.stringify(id)},"result":${deepArray(5000)},"error":null}`],
    ['a row\'s column', (id: unknown) => `{"id":${JSON.stringify(id)},"result":[{"rows":[{"other_config":${deepArray(5000)}}]}],"error":null}`],
    ['an error', (id: unknown) => `{"id":${JSON.stringify(id)},"result":null,"error":${deepArray(5000)}}`],
  ])('hwOffload: %s nested 5000 deep is 5 with a bounded message', async (_, reply) => {
    const path = await listen(join(dir, 'fake.sock'), replying(reply));
    expect(await failure(ovsdbClient(path, 1_000).hwOffload())).toEqual({ code: 5, msg: `OVSDB at ${path} answered garbage: a reply nested deeper than ${MAX_OVSDB_REPLY_DEPTH} levels` });
  });

  it('hwOffload: a row nested as deep as the bound allows is 5 naming the column, in a bounded message', async () => {
    // message { result [ op { rows [ row { other_config … }]}]}: 5 levels before the column's own.
    const path = await listen(join(dir, 'fake.sock'), replying((id) => `{"id":${JSON.stringify(id)},"result":[{"rows":[{"other_config":${deepArray(MAX_OVSDB_REPLY_DEPTH - 5)}}]}],"error":null}`));
    expect(await failure(ovsdbClient(path, 1_000).hwOffload())).toEqual({ code: 5, msg: `OVSDB at ${path} answered garbage: other_config: [[[[…]]]]` });
  });

  it(`hwOffload: a reply over ${MAX_OVSDB_REPLY_BYTES} bytes is 5, counted in bytes, not characters`, async () => {
    // 600 000 two-byte characters: 1.2 MB on the wire, never finished.
    const path = await listen(join(dir, 'fake.sock'), replying((id) => `{"id":${JSON.stringify(id)},"result":"${'é'.repeat(600_000)}`));
    expect(await failure(ovsdbClient(path, 5_000).hwOffload())).toEqual({ code: 5, msg: `OVSDB at ${path} answered garbage: a reply over ${MAX_OVSDB_REPLY_BYTES} bytes` });
  });

  it('hwOffload: a server that answers garbage is an I/O failure (5)', async () => {
    const path = await fake((sock) => sock.end('HTTP/1.1 400 Bad Request\r\n\r\n'));
    const err = await failure(ovsdbClient(path, 1_000).hwOffload());
    expect(err.code).toBe(5);
    expect(err.msg).toContain('answered garbage');
  });

  it('hwOffload: a JSON reply of the wrong shape is an I/O failure (5)', async () => {
    const path = await fake((sock, request) => sock.write(JSON.stringify({ id: JSON.parse(request).id, result: { rows: 'no' }, error: null })));
    expect((await failure(ovsdbClient(path, 1_000).hwOffload())).code).toBe(5);
  });

  it('hwOffload: answers an echo, and reads a reply split into one-byte chunks', async () => {
    let pending: unknown;
    let echoed: unknown;
    const path = await fake((sock, text) => {
      const msg = JSON.parse(text) as { id: unknown; method?: string };
      if (msg.method === 'transact') {
        pending = msg.id;
        return void sock.write(JSON.stringify({ method: 'echo', params: ['ping'], id: 'echo' }));
      }
      echoed = msg;
      const reply = JSON.stringify({ id: pending, result: [{ rows: [{ other_config: ['map', [['note', 'a "}" in a string'], ['hw-offload', 'true']]] }] }], error: null });
      const drip = (i: number): void => void (i < reply.length && sock.write(reply[i]!, () => setImmediate(drip, i + 1)));
      drip(0);
    });
    expect(await ovsdbClient(path, 5_000).hwOffload()).toEqual({ reachable: true, value: 'true' });
    expect(echoed).toEqual({ id: 'echo', result: ['ping'], error: null });
  });

  it('deletePort, portExists and portBinding: an unreachable OVSDB is an I/O failure (5)', async () => {
    const client = ovsdbClient(join(dir, 'db.sock'), 1_000);
    expect(await failure(client.portExists('rep0'))).toMatchObject({ code: 5 });
    expect((await failure(client.deletePort('br-int', 'rep0'))).msg).toMatch(/is unreachable: connect ENOENT/);
    expect((await failure(client.portBinding('rep0'))).msg).toMatch(/is unreachable: connect ENOENT/);
  });
});

describe.skipIf(!hasOvsdb())('an OVSDB that misbehaves, as ADD shows it', () => {
  const world = useWorld();

  it('an OVSDB that accepts and closes before replying is a warning, and the pod is attached', async () => {
    const w = world();
    const path = await listen(join(w.node.root, 'closing-db.sock'), (sock) => sock.end());
    const out = await w.run('ADD', { ovsdb_socket: path });
    expect(out.exitCode).toBe(0);
    expect(out.json!.warnings).toEqual([
      `OVS other_config:hw-offload is unverified: OVSDB not reachable (${path} closed the connection before replying)`,
      `port 5b45c61b307e_h not verified: OVSDB at ${path} is unreachable: ${path} closed the connection before replying`,
    ]);
    expect(w.received('/api/v1/add')).toHaveLength(1);
  });

  it('an OVSDB reply nested 5000 deep is 5 with a one-line message, not an internal error', async () => {
    const w = world();
    const path = await listen(join(w.node.root, 'deep-db.sock'), replying((id) => `{"id":${JSON.stringify(id)},"result":${deepArray(5000)},"error":null}`));
    const err = cniError(await w.run('ADD', { ovsdb_socket: path }));
    expect(err).toMatchObject({ code: 5, msg: `OVSDB at ${path} answered garbage: a reply nested deeper than ${MAX_OVSDB_REPLY_DEPTH} levels` });
    expect(w.received('/api/v1/add')).toEqual([]);
  });
});
