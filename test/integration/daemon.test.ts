/** The kube-ovn daemon misbehaving: every fault is a CNI error with a one-line cause. */
import { afterEach, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { existsSync } from 'node:fs';
import { createServer, type Server, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import { MAX_DAEMON_BODY_BYTES, MAX_DAEMON_BODY_DEPTH, MAX_DAEMON_ERROR_DETAILS, MAX_DAEMON_ERROR_MSG } from '../../src/kubeovn/client.js';
import { cniError, useWorld, type World } from '../support/harness.js';

describe('daemon faults on ADD', () => {
  const world = useWorld();

  it('11: the socket does not exist', async () => {
    const w = world();
    await w.daemon.stop();
    const err = cniError(await w.run('ADD'));
    expect(err).toMatchObject({ code: 11, msg: `kube-ovn daemon socket ${w.socket} does not exist` });
    expect(err.details).toContain('kube-ovn-cni');
  });

  it('11: the socket exists but nobody listens', async () => {
    const w = world();
    await w.daemon.stop();
    // A listener killed without cleanup leaves its socket file behind, as a crashed daemon does.
    const script = `require('net').createServer().listen(${JSON.stringify(w.socket)}, () => process.kill(process.pid, 'SIGKILL'))`;
    await execa('node', ['-e', script], { reject: false, timeout: 10_000 });
    expect(existsSync(w.socket)).toBe(true);
    const err = cniError(await w.run('ADD'));
    expect(err).toMatchObject({ code: 11, msg: `kube-ovn daemon socket ${w.socket} refused the connection` });
  });

  it('11: the daemon does not answer before daemon_timeout_s', async () => {
    const w = world();
    w.daemon.setFault({ kind: 'hang' });
    const err = cniError(await w.run('ADD', { daemon_timeout_s: 1 }));
    expect(err).toMatchObject({ code: 11, msg: 'kube-ovn daemon did not answer within 1s' });
  });

  it('11: the daemon drops the connection (a handler panic)', async () => {
    const w = world();
    w.daemon.setFault({ kind: 'reset' });
    const err = cniError(await w.run('ADD'));
    expect(err.code).toBe(11);
    expect(err.msg).toMatch(/^kube-ovn daemon connection failed: /);
  });

  it('11: a 500 surfaces the daemon\'s error text', async () => {
    const w = world();
    const error = 'configure nic eth0 for pod default/nginx failed: no packets received from gateway 10.16.0.1';
    w.daemon.setFault({ kind: 'status', status: 500, body: JSON.stringify({ ips: null, mac_address: '', routes: null, mtu: 0, nicname: '', dns: {}, error }) });
    const err = cniError(await w.run('ADD'));
    expect(err).toMatchObject({ code: 11, msg: `kube-ovn daemon refused ADD (HTTP 500): ${error}` });
    expect(err.details).toContain(error);
  });

  it('11: a 400 surfaces the daemon\'s error text (kube-ovn retries it too)', async () => {
    const w = world();
    w.daemon.setFault({ kind: 'status', status: 400, body: JSON.stringify({ error: 'parse add request failed json: cannot unmarshal number into Go struct field' }) });
    const err = cniError(await w.run('ADD'));
    expect(err).toMatchObject({ code: 11, msg: 'kube-ovn daemon refused ADD (HTTP 400): parse add request failed json: cannot unmarshal number into Go struct field' });
  });

  it('7: a plain-text 404 (no such endpoint: another daemon, or a wrong socket)', async () => {
    const w = world();
    w.daemon.setFault({ kind: 'status', status: 404, body: '404: Page Not Found', contentType: 'text/plain' });
    expect(cniError(await w.run('ADD'))).toMatchObject({ code: 7, msg: 'kube-ovn daemon refused ADD (HTTP 404): 404: Page Not Found' });
  });

  it('7: a plain-text 415 from the router is quoted as it came', async () => {
    const w = world();
    w.daemon.setFault({ kind: 'status', status: 415, body: '415: Unsupported Media Type', contentType: 'text/plain' });
    const err = cniError(await w.run('ADD'));
    expect(err.msg).toBe('kube-ovn daemon refused ADD (HTTP 415): 415: Unsupported Media Type');
  });

  it.each([
    ['an empty body', '', 'kube-ovn daemon answered ADD with an empty body'],
    ['a truncated body', '{"ips":[{"protocol":"IPv4","ip":"10.16.0.5"', 'kube-ovn daemon answered ADD with malformed JSON'],
    ['JSON of another shape', '{"hello":"world"}', 'kube-ovn daemon answered ADD in an unknown shape'],
  ])('11: 200 with %s', async (_, body, msg) => {
    const w = world();
    w.daemon.setFault({ kind: 'status', status: 200, body });
    const err = cniError(await w.run('ADD'));
    expect(err).toMatchObject({ code: 11, msg });
  });
});

describe('the simulated daemon itself', () => {
  const world = useWorld();

  it('answers 415 to a request without the JSON content type, as go-restful does', async () => {
    const w = world();
    const r = await execa('node', ['-e', `
      const req = require('http').request({ socketPath: ${JSON.stringify(w.socket)}, path: '/api/v1/add', method: 'POST' }, (res) => {
        let b = ''; res.on('data', (c) => (b += c)); res.on('end', () => console.log(res.statusCode, b));
      });
      req.end('{}');`], { timeout: 10_000 });
    expect(String(r.stdout)).toBe('415 415: Unsupported Media Type');
  });
});

describe('logs', () => {
  const world = useWorld();

  it('write JSON lines to log_file and nothing but the result to stdout', async () => {
    const w = world();
    const out = await w.run('ADD');
    expect(out.stdout.trim().split('\n')).toHaveLength(1);
    expect(out.stderr).toBe('');
    expect(w.log().length).toBeGreaterThanOrEqual(2);
  });

  it('go to stderr when no log_file is set', async () => {
    const w = world();
    const out = await w.run('ADD', { log_file: undefined, log_level: 'info' });
    expect(JSON.parse(out.stderr.split('\n')[0]!)).toMatchObject({ level: 'info', msg: 'offload checks' });
    expect(existsSync(join(w.node.root, 'plugin.log'))).toBe(false);
  });
});

describe('a hostile daemon: what it sends is bounded', () => {
  const world = useWorld();
  const servers: Server[] = [];
  afterEach(async () => {
    for (const s of servers.splice(0)) {
      s.closeAllConnections();
      await new Promise<void>((resolve) => s.close(() => resolve()));
    }
  });

  /**
   * A daemon at its own socket in the node's temp dir that answers ADD with `add` and records
   * every DEL, answering it 204 as kube-ovn does: the DEL is the plugin's rollback.
   */
  async function hostile(w: World, add: (res: ServerResponse) => void): Promise<{ socket: string; dels: Array<Record<string, unknown>> }> {
    const socket = join(w.node.root, 'hostile-daemon.sock');
    const dels: Array<Record<string, unknown>> = [];
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        if (req.url === '/api/v1/add') return add(res);
        dels.push(JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>);
        res.writeHead(204).end();
      });
    });
    server.on('clientError', (_err, sock) => sock.destroy());
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(socket, resolve));
    return { socket, dels };
  }
  const json = (status: number, body: string) => (res: ServerResponse) => void res.writeHead(status, { 'Content-Type': 'application/json' }).end(body);
  const deep = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);
  const answer = { ips: [{ protocol: 'IPv4', ip: '10.16.0.5', cidr: '10.16.0.0/16', gateway: '10.16.0.1' }], mac_address: '00:00:00:aa:bb:cc', routes: null, mtu: 1400, nicname: 'eth0', dns: {}, error: '' };

  it(`11: a 200 over ${MAX_DAEMON_BODY_BYTES} bytes is refused, and the daemon is asked to detach the pod`, async () => {
    const w = world();
    // Valid JSON and a valid answer, but 2 MiB of it: nothing kube-ovn sends is near this size.
    const daemon = await hostile(w, json(200, JSON.stringify({ ...answer, padding: 'x'.repeat(2 * MAX_DAEMON_BODY_BYTES) })));
    const err = cniError(await w.run('ADD', { server_socket: daemon.socket }));
    expect(err).toMatchObject({ code: 11, msg: `kube-ovn daemon answered ADD with more than ${MAX_DAEMON_BODY_BYTES} bytes` });
    expect(err.details!.length).toBeLessThan(1000);
    // The rollback of an unreadable 200, as for malformed JSON: the daemon may have plumbed the pod.
    expect(daemon.dels).toEqual([expect.objectContaining({ pod_name: 'nginx', pod_namespace: 'default', deviceID: '0000:42:00.2' })]);
    expect(w.log()).toContainEqual(expect.objectContaining({ level: 'info', msg: 'rolled back: the daemon detached the pod' }));
  });

  it('11: a 200 that streams on is cut off once past the bound, long before daemon_timeout_s', async () => {
    const w = world();
    const started = Date.now();
    let sent = 0;
    const daemon = await hostile(w, (res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.write('{"ips":[],"padding":"');
      const chunk = 'x'.repeat(64 * 1024);
      // 64 MiB at most, honouring back-pressure; stops early once the client has gone.
      const more = (): void => {
        while (!res.destroyed && sent < 64 * 2 ** 20) {
          sent += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', more);
        }
        if (!res.destroyed) res.end();
      };
      more();
    });
    const err = cniError(await w.run('ADD', { server_socket: daemon.socket, daemon_timeout_s: 30 }));
    expect(err).toMatchObject({ code: 11, msg: `kube-ovn daemon answered ADD with more than ${MAX_DAEMON_BODY_BYTES} bytes` });
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(sent).toBeLessThan(16 * 2 ** 20); // the plugin hung up, rather than reading on
    expect(daemon.dels).toHaveLength(1);
  });

  it('11: a 500 over the bound is a refusal naming the status, in a bounded message', async () => {
    const w = world();
    const daemon = await hostile(w, json(500, JSON.stringify({ error: `configure nic eth0 for pod default/nginx failed: ${'x'.repeat(2 * MAX_DAEMON_BODY_BYTES)}` })));
    const err = cniError(await w.run('ADD', { server_socket: daemon.socket }));
    expect(err.code).toBe(11);
    expect(err.msg).toMatch(new RegExp(`^kube-ovn daemon refused ADD \\(HTTP 500\\) with more than ${MAX_DAEMON_BODY_BYTES} bytes: `));
    expect(err.msg.length).toBeLessThanOrEqual(MAX_DAEMON_ERROR_MSG + 120);
    expect(err.details!.length).toBeLessThanOrEqual(MAX_DAEMON_ERROR_DETAILS + 500);
  });

  it('11: a long, many-line error text is one bounded line in msg and bounded in details', async () => {
    const w = world();
    const text = `configure nic eth0 for pod default/nginx failed: ${'y'.repeat(10_000)}\ngoroutine 1 [running]:\n${'main.main()\n'.repeat(1000)}`;
    const daemon = await hostile(w, json(500, JSON.stringify({ ...answer, ips: null, error: text })));
    const err = cniError(await w.run('ADD', { server_socket: daemon.socket }));
    expect(err.code).toBe(11);
    expect(err.msg).toBe(`kube-ovn daemon refused ADD (HTTP 500): configure nic eth0 for pod default/nginx failed: ${'y'.repeat(MAX_DAEMON_ERROR_MSG - 49)}…`);
    expect(err.details).toContain('configure nic eth0 for pod default/nginx failed: yyy');
    expect(err.details!.length).toBeLessThanOrEqual(MAX_DAEMON_ERROR_DETAILS + 500);
    expect(err.details).not.toContain('goroutine'); // past the bound
  });

  const deepIn = (key: string) => JSON.stringify({ ...answer, [key]: null }).replace(`"${key}":null`, `"${key}":${deep(5000)}`);
  it.each([
    ['an array 5000 deep', deep(5000)],
    ['routes nested 5000 deep', deepIn('routes')],
    ['an unknown key nested 5000 deep', deepIn('extra')],
  ])('11: a 200 with %s is refused before it is parsed, and the daemon is asked to detach the pod', async (_, body) => {
    const w = world();
    const daemon = await hostile(w, json(200, body));
    const err = cniError(await w.run('ADD', { server_socket: daemon.socket }));
    expect(err).toMatchObject({ code: 11, msg: `kube-ovn daemon answered ADD nested deeper than ${MAX_DAEMON_BODY_DEPTH} levels` });
    expect(err.details!.length).toBeLessThan(1000);
    expect(daemon.dels).toHaveLength(1);
  });

  it('11: a 500 whose error nests 5000 deep is a refusal in a bounded message', async () => {
    const w = world();
    const daemon = await hostile(w, json(500, `{"error":${deep(5000)}}`));
    const err = cniError(await w.run('ADD', { server_socket: daemon.socket }));
    expect(err.code).toBe(11);
    expect(err.msg).toBe(`kube-ovn daemon refused ADD (HTTP 500): {"error":${'['.repeat(MAX_DAEMON_ERROR_MSG - 9)}…`);
    expect(err.details!.length).toBeLessThanOrEqual(MAX_DAEMON_ERROR_DETAILS + 500);
  });
});
