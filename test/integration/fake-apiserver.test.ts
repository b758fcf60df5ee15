/**
 * The fake Kubernetes API server (test/support/fake-apiserver.ts) answers and refuses as the real
 * one does for the calls Multus v4.0.2 makes. Protobuf bodies are the bytes client-go v0.22.8
 * itself wrote (test/fixtures/client-go-protobuf), so "decodes thin Multus's PUT" is checked
 * against the real encoder, not against our own.
 *
 * Needs the vendored k8s .proto files: MULTUS_VENDOR, .cache/multus-src/vendor, or the Multus
 * tarball (third_party/multus-cni-v4.0.2.tar.gz, or MULTUS_TARBALL) unpacked here.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeTestCa, startFakeApiServer, type FakeApi, type FakeApiOptions, type Nad, type Pod } from '../support/fake-apiserver.js';
import { hasK8sProto, loadK8sProtobuf } from '../support/k8s-protobuf.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const TARBALL = process.env.MULTUS_TARBALL ?? join(REPO, 'third_party/multus-cni-v4.0.2.tar.gz');

/** A vendor/ directory with the k8s .proto files, and the temp dir to remove afterwards if we made one. */
async function findProtoDir(): Promise<{ dir?: string; made?: string }> {
  for (const dir of [process.env.MULTUS_VENDOR, join(REPO, '.cache/multus-src/vendor')]) {
    if (dir && hasK8sProto(dir)) return { dir };
  }
  if (!existsSync(TARBALL)) return {};
  const made = mkdtempSync(join(tmpdir(), 'fake-api-proto-'));
  const top = 'multus-cni-4.0.2/vendor/k8s.io';
  const r = await execa('tar', ['-xzf', TARBALL, '-C', made, '--strip-components=2', '--wildcards', `${top}/api/*.proto`, `${top}/apimachinery/*.proto`], { reject: false, timeout: 60_000 });
  if (r.exitCode !== 0 || !hasK8sProto(made)) {
    rmSync(made, { recursive: true, force: true });
    return {};
  }
  return { dir: made, made };
}
const proto = await findProtoDir();
afterAll(() => {
  if (proto.made) rmSync(proto.made, { recursive: true, force: true });
});

const GOLDEN = JSON.parse(readFileSync(join(REPO, 'test/fixtures/client-go-protobuf/bodies.json'), 'utf8')) as { podStatusPut: string; eventPost: string };

const UID = '4f6c2d1e-9a0b-4c3d-8e7f-1a2b3c4d5e6f';
const NETWORK_STATUS = 'k8s.v1.cni.cncf.io/network-status';
const DEFAULT_NETWORK = 'v1.multus-cni.io/default-network';
const PROTOBUF = 'application/vnd.kubernetes.protobuf';
// What thin Multus sends (pkg/k8sclient GetK8sClient), as captured from the real binary.
const THIN_ACCEPT = 'application/vnd.kubernetes.protobuf,application/json';

/** A pod as the runtime suite's (docs/testing.md#behind-the-real-multus); resourceVersion "11" matches the golden PUT. */
const POD: Pod = {
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'offload-example', namespace: 'default', uid: UID, resourceVersion: '11', annotations: { [DEFAULT_NETWORK]: 'default/offload' } },
  spec: { nodeName: 'node1', containers: [{ name: 'app', image: 'pause' }] },
  status: { phase: 'Pending' },
};
const NAD: Nad = {
  apiVersion: 'k8s.cni.cncf.io/v1',
  kind: 'NetworkAttachmentDefinition',
  metadata: { name: 'offload', namespace: 'default', uid: 'aaaaaaaa-0000-4000-8000-000000000002', resourceVersion: '3', annotations: { 'k8s.v1.cni.cncf.io/resourceName': 'example.com/offload_vf' } },
  spec: { config: '{"cniVersion":"0.3.1","name":"offload","plugins":[{"type":"kube-ovn-offload"}]}' },
};

interface Answer {
  status: number;
  contentType: string | undefined;
  json: Record<string, unknown>;
}

/** One request on a fresh connection (no keep-alive), node's http or https. */
function call(url: string, opts: { method?: string; headers?: Record<string, string>; body?: Buffer | string; ca?: string } = {}): Promise<Answer> {
  const u = new URL(url);
  const request = u.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(u, { method: opts.method ?? 'GET', headers: opts.headers, agent: false, ...(opts.ca ? { ca: opts.ca } : {}), timeout: 10_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        try {
          resolve({ status: res.statusCode ?? 0, contentType: res.headers['content-type'], json: JSON.parse(text) as Record<string, unknown> });
        } catch {
          reject(new Error(`answer ${res.statusCode} is not JSON: ${text}`));
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end(opts.body);
  });
}

const podPath = (name = 'offload-example', ns = 'default') => `/api/v1/namespaces/${ns}/pods/${name}`;
const put = (api: FakeApi, pod: unknown, name = 'offload-example') =>
  call(`${api.url}${podPath(name)}/status`, { method: 'PUT', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(pod) });

describe.skipIf(!proto.dir)('fake Kubernetes API server (Multus v4.0.2)', () => {
  let api: FakeApi | undefined;
  const dirs: string[] = [];
  const start = async (opts: Partial<FakeApiOptions> = {}) => (api = await startFakeApiServer({ pods: [POD], nads: [NAD], protoDir: proto.dir!, ...opts }));
  afterEach(async () => {
    await api?.stop();
    api = undefined;
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('GET pod and GET NAD answer JSON objects with apiVersion, kind, uid and resourceVersion', async () => {
    const a = await start();
    const pod = await call(`${a.url}${podPath()}?timeout=1m0s`, { headers: { Accept: THIN_ACCEPT } });
    expect(pod.status).toBe(200);
    expect(pod.contentType).toBe('application/json');
    expect(pod.json).toMatchObject({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'offload-example', namespace: 'default', uid: UID, resourceVersion: '11', annotations: { [DEFAULT_NETWORK]: 'default/offload' } } });

    const nad = await call(`${a.url}/apis/k8s.cni.cncf.io/v1/namespaces/default/network-attachment-definitions/offload`, { headers: { Accept: THIN_ACCEPT } });
    expect(nad.status).toBe(200);
    expect(nad.json).toEqual({ ...NAD, apiVersion: 'k8s.cni.cncf.io/v1', kind: 'NetworkAttachmentDefinition' });
    expect(a.calls().map((c) => [c.method, c.path, c.query, c.status])).toEqual([
      ['GET', podPath(), '?timeout=1m0s', 200],
      ['GET', '/apis/k8s.cni.cncf.io/v1/namespaces/default/network-attachment-definitions/offload', '', 200],
    ]);
  });

  it("our protobuf encoding of a Pod is byte for byte client-go's", () => {
    const pb = loadK8sProtobuf(proto.dir!);
    const golden = Buffer.from(GOLDEN.podStatusPut, 'base64');
    const pod = {
      metadata: { name: 'offload-example', namespace: 'default', uid: UID, resourceVersion: '11', annotations: { [NETWORK_STATUS]: '[{\n    "name": "default/offload",\n    "interface": "eth0"\n}]', [DEFAULT_NETWORK]: 'default/offload' } },
      spec: { nodeName: 'node1', containers: [{ name: 'app', image: 'pause' }] },
      status: { phase: 'Pending' },
    };
    // client-go (gogo-protobuf) writes every non-pointer field, zero or not; ours only what is set.
    // So compare after a decode → encode, which keeps the zeros the golden body carries.
    expect(pb.encode('Pod', pb.decode(golden).object).equals(golden)).toBe(true);
    expect(pb.decode(pb.encode('Pod', pod)).object).toMatchObject(pod);
    expect(golden.subarray(0, 4).toString('latin1')).toBe('k8s\0');
  });

  it("a protobuf PUT pods/status from client-go stores the network-status annotation and bumps resourceVersion", async () => {
    const a = await start();
    const r = await call(`${a.url}${podPath()}/status?timeout=1m0s`, {
      method: 'PUT',
      headers: { 'Content-Type': PROTOBUF, Accept: THIN_ACCEPT },
      body: Buffer.from(GOLDEN.podStatusPut, 'base64'),
    });
    expect(r.status).toBe(200);
    const want = { [NETWORK_STATUS]: '[{\n    "name": "default/offload",\n    "interface": "eth0"\n}]', [DEFAULT_NETWORK]: 'default/offload' };
    expect(r.json).toMatchObject({ kind: 'Pod', metadata: { annotations: want } });
    const stored = a.pod('default', 'offload-example')!;
    expect(stored.metadata.annotations).toEqual(want);
    expect(Number(stored.metadata.resourceVersion)).toBeGreaterThan(11);
    expect(stored.spec).toEqual(POD.spec); // pods/status never changes the spec
    expect(a.calls()[0]).toMatchObject({ method: 'PUT', contentType: PROTOBUF, status: 200 });
  });

  it('a JSON PUT pods/status (thick Multus) stores the annotation; an unchanged one keeps resourceVersion', async () => {
    const a = await start();
    const pod = (await call(`${a.url}${podPath()}`)).json as Pod;
    pod.metadata.annotations = { ...pod.metadata.annotations, [NETWORK_STATUS]: '[]' };
    const r = await put(a, pod);
    expect(r.status).toBe(200);
    expect(a.pod('default', 'offload-example')!.metadata.annotations).toEqual({ [DEFAULT_NETWORK]: 'default/offload', [NETWORK_STATUS]: '[]' });
    const rv = (r.json as Pod).metadata.resourceVersion;
    expect(rv).not.toBe('11');

    const again = await put(a, r.json);
    expect(again.status).toBe(200);
    expect((again.json as Pod).metadata.resourceVersion).toBe(rv);
  });

  it('a PUT with a stale resourceVersion gets 409 Conflict and changes nothing; a re-GET and PUT then succeeds', async () => {
    const a = await start();
    const old = (await call(`${a.url}${podPath()}`)).json as Pod;
    a.setPod({ ...POD, metadata: { ...POD.metadata, labels: { touched: 'by-kubelet' } } }); // another writer in between
    old.metadata.annotations = { [NETWORK_STATUS]: '[]' };
    const r = await put(a, old);
    expect(r.status).toBe(409);
    expect(r.json).toEqual({
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: 'Operation cannot be fulfilled on pods "offload-example": the object has been modified; please apply your changes to the latest version and try again',
      reason: 'Conflict',
      details: { name: 'offload-example', kind: 'pods' },
      code: 409,
    });
    expect(a.pod('default', 'offload-example')!.metadata.annotations).toEqual(POD.metadata.annotations);

    // What nad-client's RetryOnConflict does next.
    const fresh = (await call(`${a.url}${podPath()}`)).json as Pod;
    fresh.metadata.annotations = { ...fresh.metadata.annotations, [NETWORK_STATUS]: '[]' };
    expect((await put(a, fresh)).status).toBe(200);
  });

  it('a PUT for another pod of the same name (other UID) gets 409 Conflict', async () => {
    const a = await start();
    const r = await put(a, { ...POD, metadata: { ...POD.metadata, uid: '00000000-0000-4000-8000-000000000000' } });
    expect(r.status).toBe(409);
    expect(r.json.message).toMatch(/Precondition failed: UID in precondition/);
  });

  it('an unknown pod answers 404 NotFound as a metav1.Status, to GET and to PUT', async () => {
    const a = await start();
    const notFound = {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: 'pods "gone" not found',
      reason: 'NotFound',
      details: { name: 'gone', kind: 'pods' },
      code: 404,
    };
    const get = await call(`${a.url}${podPath('gone')}`);
    expect([get.status, get.json]).toEqual([404, notFound]);
    const r = await put(a, { ...POD, metadata: { ...POD.metadata, name: 'gone' } }, 'gone');
    expect([r.status, r.json]).toEqual([404, notFound]);
    a.deletePod('default', 'offload-example');
    expect((await call(`${a.url}${podPath()}`)).status).toBe(404);
    const nad = await call(`${a.url}/apis/k8s.cni.cncf.io/v1/namespaces/kube-system/network-attachment-definitions/cluster`);
    expect(nad.json).toMatchObject({ code: 404, reason: 'NotFound', message: 'network-attachment-definitions.k8s.cni.cncf.io "cluster" not found' });
    expect(a.calls().some((c) => c.unexpected)).toBe(false);
  });

  it('a PUT whose name differs from the URL, or in another media type, is refused', async () => {
    const a = await start();
    const wrongName = await put(a, { ...POD, metadata: { ...POD.metadata, name: 'other' } });
    expect([wrongName.status, wrongName.json.reason]).toEqual([400, 'BadRequest']);
    const yaml = await call(`${a.url}${podPath()}/status`, { method: 'PUT', headers: { 'Content-Type': 'text/plain' }, body: 'x' });
    expect([yaml.status, yaml.json.reason]).toEqual([415, 'UnsupportedMediaType']);
    const junk = await call(`${a.url}${podPath()}/status`, { method: 'PUT', headers: { 'Content-Type': PROTOBUF }, body: Buffer.from('not k8s') });
    expect([junk.status, junk.json.reason]).toEqual([400, 'BadRequest']);
  });

  it('an unexpected call answers 404 and is recorded as unexpected', async () => {
    const a = await start();
    const list = await call(`${a.url}/api/v1/namespaces/default/pods`);
    expect(list.status).toBe(404);
    expect(list.json).toMatchObject({ kind: 'Status', reason: 'NotFound', message: 'the server could not find the requested resource', code: 404 });
    expect((await call(`${a.url}${podPath()}`, { method: 'DELETE' })).status).toBe(404);
    expect(a.calls().map((c) => [c.method, c.path, c.status, c.unexpected])).toEqual([
      ['GET', '/api/v1/namespaces/default/pods', 404, true],
      ['DELETE', podPath(), 404, true],
    ]);
  });

  it("POST events (client-go's protobuf) is decoded and kept; PATCH counts it again; a repeated name is refused", async () => {
    const a = await start();
    const body = Buffer.from(GOLDEN.eventPost, 'base64');
    const post = () => call(`${a.url}/api/v1/namespaces/default/events`, { method: 'POST', headers: { 'Content-Type': PROTOBUF, Accept: THIN_ACCEPT }, body });
    const created = await post();
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({ apiVersion: 'v1', kind: 'Event', metadata: { name: 'offload-example.18ecb96e8d9de232', namespace: 'default' }, firstTimestamp: '2026-11-30T04:50:35Z', count: 1 });
    expect((await post()).json).toMatchObject({ code: 409, reason: 'AlreadyExists' });

    const patchPath = `${a.url}/api/v1/namespaces/default/events/offload-example.18ecb96e8d9de232`;
    const patch = { count: 2, lastTimestamp: '2026-11-30T04:51:00Z', message: 'Add eth0 [10.244.88.2/24] from default/offload' };
    const patched = await call(patchPath, { method: 'PATCH', headers: { 'Content-Type': 'application/strategic-merge-patch+json' }, body: JSON.stringify(patch) });
    expect([patched.status, patched.json.count]).toEqual([200, 2]);
    const missing = await call(`${patchPath}x`, { method: 'PATCH', headers: { 'Content-Type': 'application/strategic-merge-patch+json' }, body: '{}' });
    expect(missing.status).toBe(404); // the recorder then POSTs it

    expect(a.events()).toEqual([
      {
        verb: 'POST',
        contentType: PROTOBUF,
        namespace: 'default',
        name: 'offload-example.18ecb96e8d9de232',
        type: 'Normal',
        reason: 'AddedInterface',
        message: 'Add eth0 [10.244.88.2/24] from default/offload',
        count: 1,
        involvedObject: { kind: 'Pod', namespace: 'default', name: 'offload-example', uid: UID, apiVersion: 'v1', resourceVersion: '11', fieldPath: '' },
        source: { component: 'multus', host: '' },
      },
      expect.objectContaining({ verb: 'PATCH', count: 2, reason: 'AddedInterface' }),
    ]);
  });

  it('with a token, a request without `Authorization: Bearer <token>` gets 401', async () => {
    const a = await start({ token: 'fake-serviceaccount-token' });
    const none = await call(`${a.url}${podPath()}`);
    expect([none.status, none.json]).toEqual([401, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'Unauthorized', reason: 'Unauthorized', code: 401 }]);
    expect((await call(`${a.url}${podPath()}`, { headers: { Authorization: 'Bearer wrong' } })).status).toBe(401);
    expect((await call(`${a.url}${podPath()}`, { headers: { Authorization: 'Bearer fake-serviceaccount-token' } })).status).toBe(200);
    expect(a.calls().map((c) => [c.auth, c.status])).toEqual([
      ['none', 401],
      ['bearer', 401],
      ['bearer', 200],
    ]);
  });

  it('over HTTPS, the server verifies against the test CA and fails without it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fake-api-ca-'));
    dirs.push(dir);
    const ca = await makeTestCa(dir);
    const a = await start({ tls: { cert: ca.certPath, key: ca.keyPath }, token: 't' });
    expect(a.url).toBe(`https://127.0.0.1:${a.port}`);
    const r = await call(`${a.url}${podPath()}`, { ca: ca.caPem, headers: { Authorization: 'Bearer t', Accept: 'application/json, */*' } });
    expect([r.status, r.json.kind]).toEqual([200, 'Pod']);
    await expect(call(`${a.url}${podPath()}`)).rejects.toThrow(/self[- ]signed|unable to (verify|get local issuer)/i);
  });
});
