/**
 * A stand-in for the Kubernetes API server, test support only and never shipped: it answers what
 * Multus v4.0.2 (thin `multus` and thick `multus-daemon`, client-go v0.22.8,
 * network-attachment-definition-client v1.4.0) asks of the real one for a pod's ADD and DEL, and
 * refuses where the real one refuses, because client-go acts on the refusal (retry, fail, warn).
 *
 * Answered (the Multus caller, then the client call that makes the request):
 *   GET   /api/v1/namespaces/NS/pods/NAME
 *         pkg/multus/multus.go GetPod (ADD fails on 404, DEL only warns; 500/503 retried for 2.5 s
 *         by isCriticalRequestRetriable) and pkg/k8sclient/k8sclient.go SetPodNetworkStatusAnnotation
 *         (both then compare the pod's UID with K8S_POD_UID); nad-client pkg/utils setPodNetworkStatus.
 *   GET   /apis/k8s.cni.cncf.io/v1/namespaces/NS/network-attachment-definitions/NAME
 *         k8sclient.go getKubernetesDelegate (from GetDefaultNetworks, tryLoadK8sPodDefaultNetwork,
 *         GetNetworkDelegates). On an error Multus posts a NoNetworkFound Warning event.
 *   PUT   /api/v1/namespaces/NS/pods/NAME/status
 *         nad-client setPodNetworkStatus: GET pod, set the network-status annotation, UpdateStatus,
 *         all inside retry.RetryOnConflict(DefaultRetry: 5 tries), so a 409 makes it GET and PUT again.
 *   POST  /api/v1/namespaces/NS/events          client-go tools/record recordToSink → sink.Create
 *   PATCH /api/v1/namespaces/NS/events/NAME     the same for a repeated event (sink.Patch, strategic
 *         merge); on 404 the recorder POSTs it instead.
 *   Thin Multus (k8sclient.go GetK8sClient) writes its bodies as application/vnd.kubernetes.protobuf;
 *   thick (InClusterK8sClient) as JSON. Both accept JSON, which is all this server writes.
 *
 * Refused as the real apiserver does (k8s.io/apiserver, unchanged from kube-apiserver 1.22 to at
 * least 1.30; its source function in brackets):
 *   - unknown pod, NAD or event: 404 NotFound Status [registry store Get/Update; pods/status has
 *     no create-on-update];
 *   - PUT whose metadata.resourceVersion is not the current one: 409 Conflict "the object has been
 *     modified" [store.Update, OptimisticLockErrorMsg]; an empty one is an unconditional update,
 *     as podStrategy.AllowUnconditionalUpdate allows;
 *   - PUT whose metadata.uid is set and differs: 409 Conflict "Precondition failed: UID in
 *     precondition" [defaultUpdatedObjectInfo.Preconditions];
 *   - PUT whose name or namespace differs from the URL's: 400 BadRequest [handlers checkName];
 *   - POST of an event whose namespace differs from the URL's: 400 BadRequest
 *     [EnsureObjectNamespaceMatchesRequestNamespace]; without a name: 422 Invalid; with a taken
 *     name: 409 AlreadyExists; involvedObject in another namespace: 422 [ValidateEventCreate];
 *   - a body in another media type, or not decodable, or of another kind: 415 / 400;
 *   - over 3 MiB: 413 [MaxRequestBodyBytes];
 *   - when `token` is set, a missing or wrong `Authorization: Bearer`: 401 Unauthorized. (A real
 *     server with anonymous auth on answers a missing header with 403 Forbidden; Multus fails on
 *     either, without retrying.)
 * Unchanged annotations on a PUT keep the resourceVersion, as etcd3's GuaranteedUpdate skips a
 * write that changes nothing.
 *
 * Not modelled, on purpose: anything else (lists, watches, discovery, other verbs, other kinds)
 * answers 404 "the server could not find the requested resource" and is recorded with
 * `unexpected: true`, so a Multus call this server does not know shows up in `calls()` instead of
 * passing unnoticed. An Accept that excludes JSON gets 406: this server speaks no protobuf.
 * PUT pods/status takes metadata.annotations only (podStatusStrategy would also take labels and
 * status; Multus changes neither).
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';
import { loadK8sProtobuf, type K8sProtobuf } from './k8s-protobuf.js';

export { makeTestCa, type TestCa } from './test-ca.js';

const ObjectMeta = z.looseObject({
  name: z.string().min(1),
  namespace: z.string().min(1),
  uid: z.optional(z.string()),
  resourceVersion: z.optional(z.string().regex(/^\d+$/)), // "11": etcd revisions, as the real server writes them
  annotations: z.optional(z.record(z.string(), z.string())),
});
export const PodSchema = z.looseObject({
  apiVersion: z.optional(z.literal('v1')),
  kind: z.optional(z.literal('Pod')),
  metadata: ObjectMeta,
});
export const NadSchema = z.looseObject({
  apiVersion: z.optional(z.literal('k8s.cni.cncf.io/v1')),
  kind: z.optional(z.literal('NetworkAttachmentDefinition')),
  metadata: ObjectMeta,
  spec: z.optional(z.looseObject({ config: z.optional(z.string()) })),
});
export type Pod = z.infer<typeof PodSchema>;
export type Nad = z.infer<typeof NadSchema>;

/** What a PUT or POST body must at least hold; the rest of the object is kept as sent. */
const BodyMeta = z.looseObject({
  name: z.optional(z.string()),
  namespace: z.optional(z.string()),
  uid: z.optional(z.string()),
  resourceVersion: z.optional(z.string()),
  annotations: z.optional(z.record(z.string(), z.string())),
});
const PodBody = z.looseObject({ kind: z.optional(z.string()), apiVersion: z.optional(z.string()), metadata: z.optional(BodyMeta) });
const ObjectReference = z.looseObject({
  kind: z.optional(z.string()),
  namespace: z.optional(z.string()),
  name: z.optional(z.string()),
  uid: z.optional(z.string()),
  apiVersion: z.optional(z.string()),
  resourceVersion: z.optional(z.string()),
  fieldPath: z.optional(z.string()),
});
const EventBody = z.looseObject({
  kind: z.optional(z.string()),
  apiVersion: z.optional(z.string()),
  metadata: z.optional(BodyMeta),
  involvedObject: z.optional(ObjectReference),
  reason: z.optional(z.string()),
  message: z.optional(z.string()),
  type: z.optional(z.string()),
  count: z.optional(z.number()),
  source: z.optional(z.looseObject({ component: z.optional(z.string()), host: z.optional(z.string()) })),
  // JSON: an RFC 3339 string; protobuf: metav1.Time { seconds (int64 as a string), nanos }.
  firstTimestamp: z.optional(z.unknown()),
  lastTimestamp: z.optional(z.unknown()),
});
type EventObject = z.infer<typeof EventBody>;

export interface ApiCall {
  method: string;
  path: string;
  /** "?timeout=1m0s" from thin Multus (its one-minute config.Timeout), "" from thick. */
  query: string;
  contentType: string | undefined;
  accept: string | undefined;
  /** Whether a Bearer token came, not the token. */
  auth: 'bearer' | 'other' | 'none';
  status: number;
  /** Set on a call outside what this server models. */
  unexpected?: true;
  /** Date.now() when the answer was written. */
  at: number;
}

/** One accepted POST or PATCH of an event, decoded. */
export interface EventRecord {
  verb: 'POST' | 'PATCH';
  contentType: string;
  namespace: string;
  name: string;
  type?: string;
  reason?: string;
  message?: string;
  count?: number;
  involvedObject?: z.infer<typeof ObjectReference>;
  source?: { component?: string; host?: string };
}

export interface FakeApiOptions {
  pods: Pod[];
  nads: Nad[];
  /** A Go vendor/ directory holding k8s.io/api/core/v1/generated.proto and its imports. */
  protoDir: string;
  /** PEM text, or paths to PEM files (makeTestCa's certPath, keyPath): serve HTTPS. */
  tls?: { cert: string; key: string };
  /**
   * Require `Authorization: Bearer <token>`, as thick's in-cluster client sends. Only with `tls`
   * for thin Multus: clientcmd reads a kubeconfig's credentials only for an https server
   * (client_config.go ClientConfig, IsConfigTransportTLS), so over http it sends no token at all.
   */
  token?: string;
}

export interface FakeApi {
  /** http(s)://127.0.0.1:PORT */
  url: string;
  port: number;
  /** Creates or replaces a pod as another writer (the kubelet, a controller) would: a new resourceVersion. Returns the stored copy. */
  setPod(pod: Pod): Pod;
  deletePod(namespace: string, name: string): boolean;
  setNad(nad: Nad): Nad;
  /** The pod as stored now, annotations included (a copy), or undefined. */
  pod(namespace: string, name: string): Pod | undefined;
  calls(): ApiCall[];
  events(): EventRecord[];
  stop(): Promise<void>;
}

const JSON_TYPE = 'application/json';
const PROTOBUF_TYPE = 'application/vnd.kubernetes.protobuf';
const PATCH_TYPES = ['application/strategic-merge-patch+json', 'application/merge-patch+json'];
const MAX_BODY = 3 * 1024 * 1024; // apiserver's MaxRequestBodyBytes
const OPTIMISTIC_LOCK = 'the object has been modified; please apply your changes to the latest version and try again';

/** A refusal, written as the metav1.Status client-go turns into an errors.StatusError. */
class StatusError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    readonly details?: { name?: string; group?: string; kind?: string },
    /** A call outside what this server models, rather than a refusal the real server would make. */
    readonly unexpected = false,
  ) {
    super(message);
  }
  body() {
    return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: this.message, reason: this.reason, ...(this.details ? { details: this.details } : {}), code: this.code };
  }
}

/** `resource` as the apiserver's qualifiedResource prints it: "pods", "network-attachment-definitions.k8s.cni.cncf.io". */
const notFound = (resource: string, group: string, name: string) =>
  new StatusError(404, 'NotFound', `${resource}${group ? `.${group}` : ''} "${name}" not found`, { name, ...(group ? { group } : {}), kind: resource });
const conflict = (resource: string, name: string, why: string) =>
  new StatusError(409, 'Conflict', `Operation cannot be fulfilled on ${resource} "${name}": ${why}`, { name, kind: resource });
const badRequest = (message: string) => new StatusError(400, 'BadRequest', message);
const invalid = (kind: string, name: string, why: string) => new StatusError(422, 'Invalid', `${kind} "${name}" is invalid: ${why}`, { name, kind });
const notModelled = () => new StatusError(404, 'NotFound', 'the server could not find the requested resource', {}, true);

const mediaType = (header: string | undefined) => (header ?? '').split(';')[0]!.trim().toLowerCase();
const key = (namespace: string, name: string) => `${namespace}/${name}`;
const copy = <T>(x: T): T => structuredClone(x);

/** Whether an Accept header lets us answer JSON; a missing header accepts anything. */
function acceptsJson(accept: string | undefined): boolean {
  if (!accept) return true;
  return accept.split(',').some((part) => ['application/json', 'application/*', '*/*'].includes(mediaType(part)));
}

/** metav1.Time in JSON: RFC 3339 in whole seconds. Protobuf sends { seconds, nanos }. */
function rfc3339(t: unknown): string | undefined {
  if (typeof t === 'string') return t;
  const seconds = (t as { seconds?: string | number } | undefined)?.seconds;
  return seconds === undefined ? undefined : new Date(Number(seconds) * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export async function startFakeApiServer(opts: FakeApiOptions): Promise<FakeApi> {
  const pb: K8sProtobuf = loadK8sProtobuf(opts.protoDir);
  const pods = new Map<string, Pod>();
  const nads = new Map<string, Nad>();
  const storedEvents = new Map<string, Record<string, unknown>>();
  const calls: ApiCall[] = [];
  const events: EventRecord[] = [];
  // One revision counter for every object, as etcd has; starts above any revision given.
  const given = [...opts.pods, ...opts.nads].map((o) => Number(o.metadata.resourceVersion ?? 0));
  let revision = Math.max(100, ...given);
  const nextRevision = () => String(++revision);

  const store = <T extends Pod | Nad>(map: Map<string, T>, obj: T, keepRevision: boolean): T => {
    const o = copy(obj);
    o.metadata.uid ??= randomUUID();
    if (!keepRevision || !o.metadata.resourceVersion) o.metadata.resourceVersion = nextRevision();
    map.set(key(o.metadata.namespace, o.metadata.name), o);
    return copy(o);
  };
  for (const p of opts.pods) store(pods, PodSchema.parse(p), true);
  for (const n of opts.nads) store(nads, NadSchema.parse(n), true);

  const podJson = (p: Pod): Pod => ({ ...copy(p), apiVersion: 'v1', kind: 'Pod' });
  const nadJson = (n: Nad): Nad => ({ ...copy(n), apiVersion: 'k8s.cni.cncf.io/v1', kind: 'NetworkAttachmentDefinition' });

  /** A PUT or POST body as a plain object: JSON or the protobuf envelope, of the expected kind. */
  function decodeBody(req: IncomingMessage, body: Buffer, kind: 'Pod' | 'Event'): { contentType: string; object: unknown } {
    const contentType = mediaType(req.headers['content-type']);
    if (contentType === PROTOBUF_TYPE) {
      let decoded;
      try {
        decoded = pb.decode(body);
      } catch (err) {
        throw badRequest(`the body of the request could not be decoded as ${PROTOBUF_TYPE}: ${(err as Error).message}`);
      }
      if (decoded.kind !== kind) throw badRequest(`the object provided is of kind ${decoded.kind}, not ${kind}`);
      return { contentType, object: decoded.object };
    }
    if (contentType === JSON_TYPE) {
      let object: unknown;
      try {
        object = JSON.parse(body.toString('utf8'));
      } catch (err) {
        throw badRequest(`the body of the request is not JSON: ${(err as Error).message}`);
      }
      const typed = object as { kind?: unknown; apiVersion?: unknown } | null;
      // The decoder defaults a missing kind/apiVersion from the URL; a different one is refused.
      if (typed?.kind !== undefined && (typed.kind !== kind || (typed.apiVersion ?? 'v1') !== 'v1')) {
        throw badRequest(`the object provided is ${String(typed.apiVersion)}/${String(typed.kind)}, not v1/${kind}`);
      }
      return { contentType, object };
    }
    throw new StatusError(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: ${JSON_TYPE}, ${PROTOBUF_TYPE}`);
  }

  function parse<T>(schema: z.ZodType<T>, object: unknown, what: string): T {
    const r = schema.safeParse(object);
    if (!r.success) throw badRequest(`${what}: ${z.prettifyError(r.error)}`);
    return r.data;
  }

  function getPod(ns: string, name: string) {
    const p = pods.get(key(ns, name));
    if (!p) throw notFound('pods', '', name);
    return { code: 200, body: podJson(p) };
  }

  function getNad(ns: string, name: string) {
    const n = nads.get(key(ns, name));
    if (!n) throw notFound('network-attachment-definitions', 'k8s.cni.cncf.io', name);
    return { code: 200, body: nadJson(n) };
  }

  function putPodStatus(req: IncomingMessage, body: Buffer, ns: string, name: string) {
    const { object } = decodeBody(req, body, 'Pod');
    const meta = parse(PodBody, object, 'Pod').metadata ?? {};
    // handlers/rest checkName
    if ((meta.name ?? '') !== name) throw badRequest(`the name of the object (${meta.name ?? ''}) does not match the name on the URL (${name})`);
    if (meta.namespace && meta.namespace !== ns) throw badRequest(`the namespace of the object (${meta.namespace}) does not match the namespace on the URL (${ns})`);
    const current = pods.get(key(ns, name));
    if (!current) throw notFound('pods', '', name);
    if (meta.uid && meta.uid !== current.metadata.uid) {
      throw conflict('pods', name, `Precondition failed: UID in precondition: ${meta.uid}, UID in object meta: ${current.metadata.uid}`);
    }
    if (meta.resourceVersion && meta.resourceVersion !== current.metadata.resourceVersion) throw conflict('pods', name, OPTIMISTIC_LOCK);
    const annotations = meta.annotations && Object.keys(meta.annotations).length > 0 ? { ...meta.annotations } : undefined;
    if (JSON.stringify(annotations ?? {}) !== JSON.stringify(current.metadata.annotations ?? {})) {
      if (annotations) current.metadata.annotations = annotations;
      else delete current.metadata.annotations;
      current.metadata.resourceVersion = nextRevision();
    }
    return { code: 200, body: podJson(current) };
  }

  /** The Event as the server writes it back in JSON, from the decoded body (JSON or protobuf). */
  function eventJson(e: EventObject, ns: string, name: string, meta: { uid: string; creationTimestamp: string }) {
    const { firstTimestamp, lastTimestamp, metadata: _m, eventTime: _t, ...rest } = e;
    const first = rfc3339(firstTimestamp);
    const last = rfc3339(lastTimestamp);
    return {
      ...rest,
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name, namespace: ns, ...meta, resourceVersion: nextRevision() },
      ...(first ? { firstTimestamp: first } : {}),
      ...(last ? { lastTimestamp: last } : {}),
    };
  }

  function recordEvent(verb: 'POST' | 'PATCH', contentType: string, ns: string, name: string, e: EventObject) {
    events.push({
      verb,
      contentType,
      namespace: ns,
      name,
      ...(e.type !== undefined ? { type: e.type } : {}),
      ...(e.reason !== undefined ? { reason: e.reason } : {}),
      ...(e.message !== undefined ? { message: e.message } : {}),
      ...(e.count !== undefined ? { count: e.count } : {}),
      ...(e.involvedObject ? { involvedObject: e.involvedObject } : {}),
      ...(e.source ? { source: e.source } : {}),
    });
  }

  function postEvent(req: IncomingMessage, body: Buffer, ns: string) {
    const { contentType, object } = decodeBody(req, body, 'Event');
    const e = parse(EventBody, object, 'Event');
    const meta = e.metadata ?? {};
    if (meta.namespace && meta.namespace !== ns) throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
    const name = meta.name ?? '';
    if (!name) throw invalid('Event', '', 'metadata.name: Required value: name or generateName is required');
    const io = e.involvedObject?.namespace;
    if (io && io !== ns) throw invalid('Event', name, `involvedObject.namespace: Invalid value: "${io}": does not match event.namespace`);
    if (storedEvents.has(key(ns, name))) throw new StatusError(409, 'AlreadyExists', `events "${name}" already exists`, { name, kind: 'events' });
    const stored = eventJson(e, ns, name, { uid: randomUUID(), creationTimestamp: rfc3339({ seconds: Math.floor(Date.now() / 1000) })! });
    storedEvents.set(key(ns, name), stored);
    recordEvent('POST', contentType, ns, name, e);
    return { code: 201, body: stored };
  }

  function patchEvent(req: IncomingMessage, body: Buffer, ns: string, name: string) {
    const contentType = mediaType(req.headers['content-type']);
    if (!PATCH_TYPES.includes(contentType)) {
      throw new StatusError(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: ${PATCH_TYPES.join(', ')}`);
    }
    const current = storedEvents.get(key(ns, name));
    if (!current) throw notFound('events', '', name);
    let patch: unknown;
    try {
      patch = JSON.parse(body.toString('utf8'));
    } catch (err) {
      throw badRequest(`the patch is not JSON: ${(err as Error).message}`);
    }
    // The recorder's patch sets scalars only (count, lastTimestamp, message), where a strategic
    // merge is a plain merge.
    const e = parse(EventBody, { ...current, ...(patch as object), metadata: current.metadata }, 'Event');
    const { uid, creationTimestamp } = current.metadata as { uid: string; creationTimestamp: string };
    const stored = eventJson(e, ns, name, { uid, creationTimestamp });
    storedEvents.set(key(ns, name), stored);
    recordEvent('PATCH', contentType, ns, name, e);
    return { code: 200, body: stored };
  }

  /** Routes one request; throws StatusError for a refusal. */
  function route(req: IncomingMessage, path: string, body: Buffer): { code: number; body: unknown } {
    let m: RegExpMatchArray | null;
    // "/api/v1/namespaces/default/pods/offload-example" and ".../status"
    if ((m = path.match(/^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)(\/status)?$/))) {
      const [, ns, name, status] = m as unknown as [string, string, string, string | undefined];
      if (!status && req.method === 'GET') return getPod(ns, name);
      if (status && req.method === 'PUT') return putPodStatus(req, body, ns, name);
    }
    // "/apis/k8s.cni.cncf.io/v1/namespaces/kube-system/network-attachment-definitions/cluster"
    if ((m = path.match(/^\/apis\/k8s\.cni\.cncf\.io\/v1\/namespaces\/([^/]+)\/network-attachment-definitions\/([^/]+)$/)) && req.method === 'GET') {
      return getNad(m[1]!, m[2]!);
    }
    // "/api/v1/namespaces/default/events" (POST), ".../events/offload-example.18ecb96e8d9de232" (PATCH)
    if ((m = path.match(/^\/api\/v1\/namespaces\/([^/]+)\/events(?:\/([^/]+))?$/))) {
      if (!m[2] && req.method === 'POST') return postEvent(req, body, m[1]!);
      if (m[2] && req.method === 'PATCH') return patchEvent(req, body, m[1]!, m[2]);
    }
    throw notModelled();
  }

  const handler = (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= MAX_BODY) chunks.push(c);
    });
    req.on('error', () => res.destroy());
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://fake');
      const authorization = req.headers.authorization;
      const call: Omit<ApiCall, 'status' | 'at'> = {
        method: req.method ?? '',
        path: url.pathname,
        query: url.search,
        contentType: req.headers['content-type'],
        accept: req.headers.accept,
        auth: !authorization ? 'none' : /^Bearer /.test(authorization) ? 'bearer' : 'other',
      };
      let code: number;
      let answer: unknown;
      let unexpected = false;
      try {
        if (opts.token !== undefined && authorization !== `Bearer ${opts.token}`) throw new StatusError(401, 'Unauthorized', 'Unauthorized');
        if (size > MAX_BODY) throw new StatusError(413, 'RequestEntityTooLarge', `Request entity too large: limit is ${MAX_BODY}`);
        if (!acceptsJson(req.headers.accept)) {
          throw new StatusError(406, 'NotAcceptable', `only ${JSON_TYPE} is served here; Accept was ${req.headers.accept}`, undefined, true);
        }
        ({ code, body: answer } = route(req, url.pathname, Buffer.concat(chunks)));
      } catch (err) {
        const status = err instanceof StatusError ? err : new StatusError(500, 'InternalError', `fake-apiserver: ${(err as Error).stack ?? String(err)}`);
        unexpected = status.unexpected;
        code = status.code;
        answer = status.body();
      }
      const text = JSON.stringify(answer);
      res.writeHead(code, { 'Content-Type': JSON_TYPE, 'Content-Length': Buffer.byteLength(text) });
      res.end(text);
      calls.push({ ...call, status: code, ...(unexpected ? { unexpected: true as const } : {}), at: Date.now() });
    });
  };

  const pem = (x: string) => (x.includes('-----BEGIN') ? x : readFileSync(x, 'utf8'));
  const server: Server = opts.tls ? createHttpsServer({ cert: pem(opts.tls.cert), key: pem(opts.tls.key) }, handler) : createHttpServer(handler);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;

  return {
    url: `${opts.tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    port,
    setPod: (pod) => store(pods, PodSchema.parse(pod), false),
    deletePod: (namespace, name) => pods.delete(key(namespace, name)),
    setNad: (nad) => store(nads, NadSchema.parse(nad), false),
    pod: (namespace, name) => {
      const p = pods.get(key(namespace, name));
      return p && podJson(p);
    },
    calls: () => copy(calls),
    events: () => copy(events),
    stop: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        // client-go keeps its connections open; close() alone would wait for them.
        server.closeAllConnections();
      }),
  };
}
