/**
 * A real ovsdb-server (Debian's openvswitch-switch) on a private database in `dir`, with
 * `br-int` created, for the OVSDB client's tests. No ovs-vswitchd and no kernel module: only
 * the database answers, which is all the client talks to.
 */
import { execa } from 'execa';
import { existsSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { delimiter, join } from 'node:path';

export interface OvsdbServer {
  socket: string;
  /** ovs-vsctl against this server; stdout trimmed. Rejects when ovs-vsctl fails. */
  vsctl(...args: string[]): Promise<string>;
  /** Stops the server and waits for it to exit. */
  stop(): Promise<void>;
}

const SCHEMA = '/usr/share/openvswitch/vswitch.ovsschema';

/** ovsdb-server lives in /usr/sbin, which is not on every user's PATH. */
function ovsdbServerPath(): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter).filter(Boolean), '/usr/sbin'];
  return dirs.map((d) => join(d, 'ovsdb-server')).find((p) => existsSync(p));
}

export function hasOvsdb(): boolean {
  return ovsdbServerPath() !== undefined;
}

export async function startOvsdb(dir: string): Promise<OvsdbServer> {
  const bin = ovsdbServerPath();
  if (!bin) throw new Error('ovsdb-server is not installed (Debian: openvswitch-switch)');
  // OVS_* keep every tool away from /run/openvswitch and /var/log/openvswitch of the host.
  const env = { OVS_RUNDIR: dir, OVS_LOGDIR: dir, OVS_DBDIR: dir };
  const db = join(dir, 'conf.db');
  const socket = join(dir, 'db.sock');
  const log = join(dir, 'ovsdb-server.log');
  await execa('ovsdb-tool', ['create', db, SCHEMA], { env, timeout: 15_000 });

  // ovsdb-server stays in the foreground unless given --detach, so execa owns the real
  // process and kill() reaches it. The timeout is a safety net for a suite that never stops it.
  const server = execa(bin, [db, `--remote=punix:${socket}`, `--unixctl=${join(dir, 'ovsdb-server.ctl')}`, `--pidfile=${join(dir, 'ovsdb-server.pid')}`, '--no-chdir', `--log-file=${log}`, '-vconsole:off'], {
    env,
    stdin: 'ignore',
    stdout: 'ignore',
    reject: false,
    timeout: 30 * 60_000,
  });
  let exited = false;
  void server.finally(() => (exited = true));
  const stop = async () => {
    if (!exited) server.kill('SIGTERM'); // execa follows with SIGKILL after 5 s (forceKillAfterDelay)
    await server;
  };

  const vsctl = async (...args: string[]) => {
    const r = await execa('ovs-vsctl', [`--db=unix:${socket}`, '--no-wait', '--timeout=10', ...args], { env, timeout: 15_000 });
    return r.stdout.trim();
  };

  try {
    await waitForSocket(socket, 10_000, () => exited);
    await vsctl('init');
    await vsctl('add-br', 'br-int');
  } catch (err) {
    await stop();
    const said = existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n').slice(-5).join('\n') : '';
    throw new Error(`ovsdb-server in ${dir} did not start: ${err instanceof Error ? err.message : String(err)}\n${said}`);
  }
  return { socket, vsctl, stop };
}

/** Polls until the socket accepts a connection; a bounded wait, given up early if the server died. */
async function waitForSocket(socket: string, timeoutMs: number, died: () => boolean): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(socket);
      s.once('connect', () => (s.destroy(), resolve(true)));
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (died()) throw new Error('ovsdb-server exited');
    if (Date.now() > deadline) throw new Error(`${socket} accepted no connection within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
