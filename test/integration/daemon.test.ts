/** The kube-ovn daemon misbehaving: every fault is a CNI error with a one-line cause. */
import { describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { cniError, useWorld } from './harness.js';

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
