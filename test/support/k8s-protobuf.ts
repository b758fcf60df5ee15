/**
 * Kubernetes' protobuf wire format for the fake API server and its tests: the 4-byte magic
 * "k8s\0" followed by a runtime.Unknown { typeMeta, raw, contentEncoding, contentType } whose
 * `raw` is the object's own message (client-go v0.22
 * k8s.io/apimachinery/pkg/runtime/serializer/protobuf/protobuf.go, Serializer.Encode/Decode).
 *
 * The messages come from the vendored, unmodified `.proto` files of Multus v4.0.2
 * (`vendor/k8s.io/api/core/v1/generated.proto` and its apimachinery imports), so a field the
 * fake does not know is one client-go does not know either.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import protobuf from 'protobufjs';

/** client-go's protobuf.go `protoEncodingPrefix`. */
const MAGIC = Buffer.from([0x6b, 0x38, 0x73, 0x00]); // "k8s\0"

const CORE_V1_PROTO = 'k8s.io/api/core/v1/generated.proto';

/** The core/v1 kinds Multus writes (UpdateStatus, the event sink), by their message names. */
const MESSAGES = {
  Pod: 'k8s.io.api.core.v1.Pod',
  Event: 'k8s.io.api.core.v1.Event',
} as const;
export type CoreKind = keyof typeof MESSAGES;

export interface Decoded {
  apiVersion: string;
  kind: string;
  /** The object as protobufjs' plain object: int64 as strings, bytes as base64, no defaults. */
  object: Record<string, unknown>;
}

export interface K8sProtobuf {
  /** Decodes a "k8s\0" + runtime.Unknown body; throws, saying why, on anything else. */
  decode(body: Buffer): Decoded;
  /** Encodes as client-go does for a Body(obj) with ContentType application/vnd.kubernetes.protobuf. */
  encode(kind: CoreKind, object: Record<string, unknown>): Buffer;
}

/** True when `protoDir` (a Go vendor/ directory) holds the core/v1 .proto file. */
export function hasK8sProto(protoDir: string): boolean {
  return existsSync(join(protoDir, CORE_V1_PROTO));
}

export function loadK8sProtobuf(protoDir: string): K8sProtobuf {
  if (!hasK8sProto(protoDir)) throw new Error(`${join(protoDir, CORE_V1_PROTO)} not found: pass Multus's vendor/ directory`);
  const root = new protobuf.Root();
  // The .proto files import each other by their path under vendor/ ("k8s.io/apimachinery/...").
  root.resolvePath = (_origin, target) => join(protoDir, target);
  root.loadSync(CORE_V1_PROTO, { keepCase: true });
  root.resolveAll();
  const unknown = root.lookupType('k8s.io.apimachinery.pkg.runtime.Unknown');
  const message = (kind: string) => (kind in MESSAGES ? root.lookupType(MESSAGES[kind as CoreKind]) : undefined);

  return {
    decode(body) {
      if (body.length < MAGIC.length || !body.subarray(0, MAGIC.length).equals(MAGIC)) {
        throw new Error(`not a Kubernetes protobuf body: it starts with ${JSON.stringify(body.subarray(0, 4).toString('latin1'))}, not "k8s\\0"`);
      }
      const envelope = unknown.toObject(unknown.decode(body.subarray(MAGIC.length)), { defaults: true }) as {
        typeMeta?: { apiVersion?: string; kind?: string };
        raw: Uint8Array;
        contentEncoding: string;
      };
      const apiVersion = envelope.typeMeta?.apiVersion ?? '';
      const kind = envelope.typeMeta?.kind ?? '';
      // client-go never compresses; a contentEncoding would mean raw is not the message.
      if (envelope.contentEncoding) throw new Error(`unsupported contentEncoding ${JSON.stringify(envelope.contentEncoding)}`);
      const type = message(kind);
      if (apiVersion !== 'v1' || !type) throw new Error(`no core/v1 message for apiVersion ${JSON.stringify(apiVersion)} kind ${JSON.stringify(kind)}`);
      const object = type.toObject(type.decode(envelope.raw), { longs: String, bytes: String, arrays: true, objects: true, defaults: false });
      return { apiVersion, kind, object };
    },

    encode(kind, object) {
      const type = root.lookupType(MESSAGES[kind]);
      const message = type.fromObject(object); // int64 fields may be given as strings, as decode() returns them
      const invalid = type.verify(message);
      if (invalid) throw new Error(`${kind}: ${invalid}`);
      const raw = type.encode(message).finish();
      const envelope = unknown.encode(unknown.fromObject({ typeMeta: { apiVersion: 'v1', kind }, raw, contentEncoding: '', contentType: '' })).finish();
      return Buffer.concat([MAGIC, envelope]);
    },
  };
}
