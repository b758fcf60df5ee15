'use strict';
/**
 * The floor for `npm run bench`: the fastest honest program doing the external work of the
 * plugin's ADD and DEL (guard and shim, src/plugin/add.ts and del.ts) on the success path, and
 * nothing else. Same inputs (CNI environment, network configuration on stdin), same external
 * calls (the same devlink/ethtool/nsenter command lines, the same OVSDB questions, the same
 * daemon requests), same outputs (stdout, the record under the state dir, the lock protocol).
 * Node built-ins only, packaged as a single executable exactly as the plugin is
 * (scripts/package.sh bench/floor.cjs dist/bench-floor). Never shipped.
 *
 * Where it is cheaper than the plugin, it is by doing the same work in fewer steps, each named
 * below: synchronous file system calls; one OVSDB connection per call, with the checks' two
 * questions in one transaction (the plugin opens one connection for each).
 * What it leaves out is what costs nothing outside: schema validation, the refusal paths,
 * logging (the bench runs the plugin at log_level error, which logs nothing on success), the
 * check that CNI_NETNS is not the plugin's own netns (two stat calls).
 */
const fs = require('node:fs');
const net = require('node:net');
const { spawn } = require('node:child_process');

const { O_RDONLY, O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW, O_NONBLOCK } = fs.constants;
const TOOL_TIMEOUT_MS = 10_000;

function main() {
  const env = process.env;
  const stdin = fs.readFileSync(0, 'utf8');
  const conf = JSON.parse(stdin);
  const args = new Map(String(env.CNI_ARGS || '').split(';').map((kv) => kv.split('=')));
  const c = {
    command: env.CNI_COMMAND,
    containerId: env.CNI_CONTAINERID,
    netns: env.CNI_NETNS,
    ifname: env.CNI_IFNAME,
    pod: { name: args.get('K8S_POD_NAME'), namespace: args.get('K8S_POD_NAMESPACE') },
    conf,
    mode: conf.mode || 'guard',
    pci: String(conf.runtimeConfig?.deviceID || conf.deviceID || conf.pciBusID).toLowerCase(),
    stateDir: env.KUBE_OVN_OFFLOAD_STATE_DIR || conf.state_dir || '/var/lib/cni/kube-ovn-offload',
    sys: (env.KUBE_OVN_OFFLOAD_SYSFS_ROOT || '/').replace(/\/$/, '') + '/sys',
  };
  if (c.command === 'ADD') return add(c);
  if (c.command === 'DEL') return del(c);
  throw new Error(`floor: ${c.command} is not measured`);
}

// --- ADD -----------------------------------------------------------------------------------

async function add(c) {
  const host = hostName(c.containerId, c.ifname);
  const lock = takeLock(c);
  try {
    const record = recordPath(c);
    if (readOwn(record) !== undefined) throw new Error(`VF ${c.pci} is on record`);
    const vfDir = `${c.sys}/bus/pci/devices/${c.pci}`;
    const pf = basename(fs.readlinkSync(`${vfDir}/physfn`));
    // Started first, so they run while the file system is read.
    const eswitch = run('devlink', ['-j', 'dev', 'eswitch', 'show', `pci/${pf}`]);
    const ports = run('devlink', ['-j', 'port', 'show']);
    const ovs = ovsdb(c.conf.ovsdb_socket || '/run/openvswitch/db.sock');
    const checked = ovs.transact([
      { op: 'select', table: 'Open_vSwitch', where: [], columns: ['other_config'] },
      { op: 'select', table: 'Interface', where: [['name', '==', host]], columns: ['external_ids'] },
    ]);
    const pfDir = `${c.sys}/bus/pci/devices/${pf}`;
    const vfNetdev = readdirIfExists(`${vfDir}/net`)[0];
    const driver = basename(fs.readlinkSync(`${vfDir}/driver`));
    const index = vfIndex(pfDir, c.pci);
    const uplink = findUplink(pfDir);
    const ethtool = run('ethtool', ['--json', '-k', uplink]);
    if (readlinkIfExists(`${c.sys}/class/net/${uplink}/master`) !== undefined || readdirIfExists(`${c.sys}/class/net/${uplink}/bonding_slave`).length > 0) throw new Error('bond');
    const [eswitchOut, portsOut, ethtoolOut, [config, iface]] = await Promise.all([eswitch, ports, ethtool, checked]);
    if (JSON.parse(eswitchOut).dev[`pci/${pf}`].mode !== 'switchdev') throw new Error('not switchdev');
    const rep = Object.entries(JSON.parse(portsOut).port).find(([h, p]) => h.startsWith(`pci/${pf}/`) && p.flavour === 'pcivf' && p.controller === 0 && p.vfnum === index)?.[1].netdev;
    if (!rep) throw new Error('no representor');
    if (JSON.parse(ethtoolOut)[0]['hw-tc-offload']?.active !== true) throw new Error('hw-tc-offload');
    if (config.rows[0]?.other_config[1].find(([k]) => k === 'hw-offload')?.[1] !== 'true') throw new Error('hw-offload');
    if (iface.rows.length > 0) throw new Error(`br-int port ${host} exists`);
    if (driver !== 'mlx5_core' || !vfNetdev) throw new Error('VF driver');

    const facts = { pf, index, uplink, vfNetdev, rep };
    let result;
    if (c.mode === 'shim') {
      result = await attachShim(c, facts, host, ovs);
    } else {
      ovs.close();
      putRecord(c, facts, host, {});
      result = { cniVersion: c.conf.cniVersion };
    }
    process.stdout.write(JSON.stringify(result) + '\n');
  } finally {
    lock.release();
  }
}

/** IPv6 on in the pod netns, the record, the daemon, the record again, the port verified. */
async function attachShim(c, f, host, ovs) {
  await run('nsenter', [`--net=${c.netns}`, 'sh', '-c', IPV6_SCRIPT]);
  putRecord(c, f, host, {});
  const answer = await post(c, '/api/v1/add', daemonRequest(c, c.pci, false));
  if (answer.status !== 200) throw new Error(`daemon ${answer.status}: ${answer.body}`);
  const resp = JSON.parse(answer.body);
  // The daemon names the representor as kube-ovn does: read it there, its phys_port_name says it is this VF's.
  const repDir = `${c.sys}/class/net/${host}`;
  if (readSys(`${repDir}/phys_port_name`) !== `pf${pfNumber(f.pf)}vf${f.index}`) throw new Error(`representor ${host} not found`);
  const hostSide = { name: host, mac: readSys(`${repDir}/address`) };
  const ips = responseIps(resp);
  const podIface = { name: resp.nicname || c.ifname, ...(resp.mac_address ? { mac: resp.mac_address.toLowerCase() } : {}), ...(resp.mtu ? { mtu: resp.mtu } : {}), sandbox: c.netns, pciID: c.pci };
  const result = {
    interfaces: [podIface, hostSide],
    ips: ips.map((i) => ({ interface: 0, address: i.ip.includes('/') ? i.ip : `${i.ip}/${i.cidr.split('/')[1]}`, ...(i.gateway ? { gateway: i.gateway } : {}) })),
    routes: routesOf(resp, ips),
    dns: resp.dns ?? {},
  };
  putRecord(c, f, host, result);
  await verifyPort(c, host, ovs);
  ovs.close();
  return forVersion(result, c.conf.cniVersion);
}

/** One transaction: the port's uuid, its Interface's external_ids, and the bridges' ports. */
async function verifyPort(c, port, ovs) {
  const deadline = Date.now() + TOOL_TIMEOUT_MS;
  for (;;) {
    const [portRows, ifaceRows, bridges] = await ovs.transact([
      { op: 'select', table: 'Port', where: [['name', '==', port]], columns: ['_uuid'] },
      { op: 'select', table: 'Interface', where: [['name', '==', port]], columns: ['external_ids'] },
      { op: 'select', table: 'Bridge', where: [], columns: ['name', 'ports'] },
    ]);
    const uuid = portRows.rows[0]?._uuid[1];
    const bridge = bridges.rows.find((b) => (b.ports[0] === 'set' ? b.ports[1] : [b.ports]).some((u) => u[1] === uuid))?.name;
    const ids = Object.fromEntries(ifaceRows.rows[0]?.external_ids[1] ?? []);
    if (!uuid || bridge !== 'br-int' || !ids['iface-id'] || (ids.pod_netns ?? c.netns) !== c.netns || (ids.pod_namespace ?? c.pod.namespace) !== c.pod.namespace) throw new Error(`port ${port} is not this pod's br-int port`);
    if (ids['ovn-installed'] === 'true') return;
    if (Date.now() >= deadline) throw new Error(`port ${port} not bound`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

// --- DEL -----------------------------------------------------------------------------------

async function del(c) {
  const lock = takeLock(c);
  try {
    const text = readOwn(recordPath(c));
    const held = text === undefined ? undefined : JSON.parse(text);
    const mine = held && held.network === c.conf.name && held.containerId === c.containerId && held.ifname === c.ifname ? held : undefined;
    let alive = false;
    try {
      alive = fs.statfsSync(c.netns).type === 0x6e736673; // NSFS_MAGIC
    } catch {}
    if (c.mode === 'shim') {
      const answer = await post(c, '/api/v1/del', daemonRequest(c, c.pci, true));
      if (answer.status !== 204 && answer.status !== 200) throw new Error(`daemon ${answer.status}: ${answer.body}`);
    }
    if (!mine || !alive) throw new Error('floor: only the path of a live pod on record is measured');
    if (mine.vfNetdev) await giveVfBack(c, mine.vfNetdev);
    fs.unlinkSync(recordPath(c));
  } finally {
    lock.release();
  }
}

/** The VF, which kube-ovn's DEL left in the pod netns, back to the host: found by name, moved by pid. */
async function giveVfBack(c, original) {
  const inPod = (...a) => run('nsenter', [`--net=${c.netns}`, 'ip', ...a]);
  const links = JSON.parse(await inPod('-j', 'link', 'show'));
  let name = links.some((l) => l.ifname === original) ? original : links.find((l) => l.ifname === c.ifname && l.ifalias === original)?.ifname;
  if (!name) return;
  if (name !== original) {
    await inPod('link', 'set', 'dev', name, 'down');
    await inPod('link', 'set', 'dev', name, 'name', original);
    name = original;
  }
  await inPod('link', 'set', 'dev', name, 'netns', String(process.pid));
}

// --- the pieces ------------------------------------------------------------------------------

const IPV6_SCRIPT = `for f in ${['all', 'default'].flatMap((d) => [`/proc/sys/net/ipv6/conf/${d}/disable_ipv6`, `/proc/sys/net/ipv6/conf/${d}/accept_ra`]).join(' ')}; do [ -w "$f" ] && echo 0 > "$f"; done; exit 0`;

function hostName(cid, ifname) {
  return ifname === 'eth0' ? `${cid.slice(0, 12)}_h` : `${cid.slice(0, 12 - ifname.length)}_${ifname}_h`;
}

function pfNumber(pf) {
  return Number(pf.slice(-1));
}

/** N of the PF's virtfn<N> link that points at the VF: read in order, up to the match. */
/** VF N sits at the PF's routing ID + sriov_offset + N × sriov_stride; its virtfnN link confirms it. */
function vfIndex(pfDir, vf) {
  const rid = (pci) => (parseInt(pci.slice(5, 7), 16) << 8) | (parseInt(pci.slice(8, 10), 16) << 3) | Number(pci.slice(11));
  const offset = Number(fs.readFileSync(`${pfDir}/sriov_offset`, 'utf8'));
  const stride = Number(fs.readFileSync(`${pfDir}/sriov_stride`, 'utf8'));
  const n = (rid(vf) - rid(basename(pfDir)) - offset) / stride;
  if (basename(fs.readlinkSync(`${pfDir}/virtfn${n}`)) === vf) return n;
  throw new Error(`VF ${vf} not listed by its PF`);
}

/** The PF netdev with a phys_switch_id and phys_port_name p<N>, never merely the first. */
function findUplink(pfDir) {
  for (const dev of fs.readdirSync(`${pfDir}/net`).sort()) {
    const portName = readSys(`${pfDir}/net/${dev}/phys_port_name`);
    if (portName && /^p\d+$/.test(portName) && readSys(`${pfDir}/net/${dev}/phys_switch_id`)) return dev;
  }
  throw new Error('no uplink');
}

function daemonRequest(c, deviceID, forDel) {
  const k = c.conf;
  return {
    cni_type: 'kube-ovn', pod_name: c.pod.name, pod_namespace: c.pod.namespace, container_id: c.containerId, net_ns: c.netns, if_name: c.ifname,
    provider: k.provider || 'ovn', routes: forDel ? null : k.routes ?? null, dns: forDel ? {} : k.dns ?? {}, vf_driver: forDel ? '' : k.vf_driver ?? '', deviceID,
    vhost_user_socket_volume_name: k.vhost_user_socket_volume_name ?? '', vhost_user_socket_name: forDel ? '' : k.vhost_user_socket_name ?? '', vhost_user_socket_consumption: k.vhost_user_socket_consumption ?? '',
  };
}

function responseIps(resp) {
  if ('ips' in resp) return (resp.ips ?? []).map((i) => ({ ip: i.ip, cidr: i.cidr, gateway: i.gateway || undefined }));
  const split = (s) => (s ? s.split(',') : []);
  const [a, b, g] = [split(resp.address), split(resp.cidr), split(resp.gateway)];
  return a.map((ip, n) => ({ ip, cidr: b[n] ?? '', gateway: g[n] || undefined }));
}

function routesOf(resp, ips) {
  const dflt = (gw) => (gw.includes(':') ? '::/0' : '0.0.0.0/0');
  if (resp.routes?.length) return resp.routes.filter((r) => r.dst || r.gw).map((r) => ({ dst: r.dst || dflt(r.gw ?? ''), ...(r.gw ? { gw: r.gw } : {}) }));
  return ips.filter((i) => i.gateway).map((i) => ({ dst: dflt(i.gateway), gw: i.gateway }));
}

/** The result in the config's cniVersion (1.0.0 and 1.1.0 here: 1.1.0 keeps mtu and pciID). */
function forVersion(r, v) {
  const full = v === '1.1.0';
  const out = { cniVersion: v, interfaces: r.interfaces.map(({ mtu, pciID, ...i }) => (full ? { ...i, ...(mtu ? { mtu } : {}), ...(pciID ? { pciID } : {}) } : i)) };
  if (r.ips.length) out.ips = r.ips;
  if (r.routes.length) out.routes = r.routes;
  const d = r.dns;
  if (d.nameservers?.length || d.domain || d.search?.length || d.options?.length) out.dns = d;
  return out;
}

function recordPath(c) {
  return `${c.stateDir}/vf/${c.pci}.json`;
}

/** The record, written to a temp file and renamed into place, as the plugin's StateStore does. */
function putRecord(c, f, host, result) {
  const record = {
    version: 1, network: c.conf.name, containerId: c.containerId, ifname: c.ifname, mode: c.mode, netns: c.netns, pod: c.pod, deviceID: c.pci, pf: f.pf, uplink: f.uplink, vfIndex: f.index,
    vfNetdev: f.vfNetdev, representor: { original: f.rep, host }, result, createdAt: new Date().toISOString(),
  };
  const file = recordPath(c);
  const tmp = `${file}.tmp.${process.pid}.${Math.random().toString(36).slice(2)}`;
  fs.mkdirSync(`${c.stateDir}/vf`, { recursive: true, mode: 0o700 });
  createExclusive(tmp, JSON.stringify(record, null, 1) + '\n');
  fs.renameSync(tmp, file);
}

/** The plugin's per-VF lock: link(2) of a temp file holding pid, start time and boot id; released only while ours. */
function takeLock(c) {
  const dir = `${c.stateDir}/lock`;
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const path = `${dir}/${c.pci}.lock`;
  const stat = fs.readFileSync(`/proc/${process.pid}/stat`, 'utf8');
  const mine = JSON.stringify({ pid: process.pid, start: stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19], boot: fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim() });
  const tmp = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}`;
  createExclusive(tmp, mine);
  const deadline = Date.now() + 60_000;
  const nap = new Int32Array(new SharedArrayBuffer(4));
  try {
    for (;;) {
      try {
        fs.linkSync(tmp, path);
        break;
      } catch (err) {
        if (err.code !== 'EEXIST' || Date.now() > deadline) throw err;
      }
      Atomics.wait(nap, 0, 0, 25); // held by a live ADD or DEL of this VF: the plugin polls every 25 ms too
    }
  } finally {
    fs.unlinkSync(tmp);
  }
  return { release: () => readOwn(path) === mine && fs.unlinkSync(path) };
}

function createExclusive(path, data) {
  const fd = fs.openSync(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600);
  try {
    fs.writeSync(fd, data);
  } finally {
    fs.closeSync(fd);
  }
}

/** A sysfs attribute without its trailing newline; undefined when absent or not supported (as src/node/sysfs.ts). */
function readSys(path) {
  try {
    return fs.readFileSync(path, 'utf8').trim();
  } catch (err) {
    if (['ENOENT', 'ENOTDIR', 'EOPNOTSUPP', 'EINVAL', 'ENODEV'].includes(err.code)) return undefined;
    throw err;
  }
}

/** One of our own small files (record, lock): never through a symlink at the last component, never blocking; undefined when absent. */
function readOwn(path) {
  let fd;
  try {
    fd = fs.openSync(path, O_RDONLY | O_NONBLOCK | O_NOFOLLOW);
  } catch (err) {
    if (err.code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    return fs.readFileSync(fd, 'utf8');
  } finally {
    fs.closeSync(fd);
  }
}

function readdirIfExists(path) {
  try {
    return fs.readdirSync(path).sort();
  } catch (err) {
    if (err.code === 'ENOENT') return [];
    throw err;
  }
}

function readlinkIfExists(path) {
  try {
    return fs.readlinkSync(path);
  } catch (err) {
    if (err.code === 'ENOENT') return undefined;
    throw err;
  }
}

function basename(p) {
  return p.slice(p.lastIndexOf('/') + 1);
}

/** A node tool found on PATH, in its own process group, with a timeout; its stdout, or a failure. */
function run(tool, args) {
  return new Promise((resolve, reject) => {
    const child = spawn(tool, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true, timeout: TOOL_TIMEOUT_MS, killSignal: 'SIGKILL' });
    const out = [];
    const err = [];
    child.stdout.on('data', (b) => out.push(b));
    child.stderr.on('data', (b) => err.push(b));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(Buffer.concat(out).toString()) : reject(new Error(`${tool} ${args.join(' ')}: exit ${code}: ${Buffer.concat(err)}`))));
  });
}

/** One OVSDB connection (RFC 7047 JSON-RPC on the unix socket): transactions one at a time. */
function ovsdb(path) {
  const sock = net.connect({ path });
  let buffer = '';
  let waiting;
  let id = 0;
  sock.setEncoding('utf8');
  sock.on('data', (chunk) => {
    buffer += chunk;
    let msg;
    try {
      msg = JSON.parse(buffer); // replies are small, and one is asked at a time
    } catch {
      return;
    }
    buffer = '';
    if (msg.method === 'echo') return void sock.write(JSON.stringify({ id: msg.id, result: msg.params, error: null }));
    const w = waiting;
    waiting = undefined;
    if (msg.error) w.reject(new Error(JSON.stringify(msg.error)));
    else w.resolve(msg.result);
  });
  sock.on('error', (e) => waiting?.reject(e));
  const timer = setTimeout(() => sock.destroy(new Error('OVSDB did not answer')), TOOL_TIMEOUT_MS);
  return {
    transact: (ops) =>
      new Promise((resolve, reject) => {
        waiting = { resolve, reject };
        sock.write(JSON.stringify({ method: 'transact', params: ['Open_vSwitch', ...ops], id: id++ }));
      }).then((results) => {
        const failed = results.find((r) => r?.error);
        if (failed) throw new Error(`OVSDB: ${failed.error}`);
        return results;
      }),
    close: () => (clearTimeout(timer), sock.destroy()),
  };
}

/** POST to the kube-ovn daemon on its unix socket: HTTP/1.1, the JSON body, Connection: close, as kube-ovn's binary. */
function post(c, path, body) {
  const data = Buffer.from(JSON.stringify(body));
  return new Promise((resolve, reject) => {
    const sock = net.connect({ path: c.conf.server_socket || '/run/openvswitch/kube-ovn-daemon.sock' });
    const chunks = [];
    const timer = setTimeout(() => sock.destroy(new Error(`daemon did not answer ${path}`)), (c.conf.daemon_timeout_s ?? 200) * 1000);
    sock.on('connect', () => sock.write(Buffer.concat([Buffer.from(`POST ${path} HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: ${data.length}\r\nHost: dummy\r\nConnection: close\r\n\r\n`), data])));
    sock.on('data', (b) => chunks.push(b));
    sock.on('error', (e) => (clearTimeout(timer), reject(e)));
    sock.on('end', () => {
      clearTimeout(timer);
      sock.destroy();
      const text = Buffer.concat(chunks).toString();
      const head = text.slice(0, text.indexOf('\r\n\r\n'));
      let rest = text.slice(head.length + 4);
      if (/\r\ntransfer-encoding: *chunked/i.test(head)) rest = dechunk(rest);
      resolve({ status: Number(head.split(' ')[1]), body: rest });
    });
  });
}

function dechunk(s) {
  let out = '';
  for (let i = 0; ; ) {
    const eol = s.indexOf('\r\n', i);
    const size = parseInt(s.slice(i, eol), 16);
    if (!size) return out;
    out += s.slice(eol + 2, eol + 2 + size);
    i = eol + 2 + size + 2;
  }
}

function start() {
  Promise.resolve()
    .then(main)
    .then(
      () => process.exit(0),
      (err) => {
        process.stdout.write(JSON.stringify({ cniVersion: '1.0.0', code: 999, msg: `floor: ${err.message}` }) + '\n');
        process.exit(1);
      },
    );
}

// Packaged as the plugin is: into a start-up snapshot by default (scripts/package.sh).
const { startupSnapshot } = require('node:v8');
if (startupSnapshot.isBuildingSnapshot()) startupSnapshot.setDeserializeMainFunction(start);
else start();
