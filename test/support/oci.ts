/**
 * A one-layer OCI image archive (image layout in a tar), made without a container engine, for
 * `ctr images import`: the layer is a deterministic tar of the given files, the config names
 * the entrypoint, the index names the image (io.containerd.image.name). Test-only.
 */
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { execa } from 'execa';

export interface ImageFile {
  /** Path inside the image, without a leading slash ("pause"). */
  path: string;
  /** The file on this machine to copy in. */
  source: string;
  mode: number;
}

/** The OCI architecture of this machine ("amd64", "arm64"): the image's files are this machine's. */
const ARCH = ({ x64: 'amd64', arm64: 'arm64' } as Record<string, string>)[process.arch] ?? process.arch;

export async function ociArchive(opts: { ref: string; files: ImageFile[]; entrypoint: string[]; user?: string; out: string }): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'kovo-oci-'));
  try {
    const rootfs = join(work, 'rootfs');
    const blobs = join(work, 'oci', 'blobs', 'sha256');
    mkdirSync(blobs, { recursive: true });
    for (const f of opts.files) {
      const at = join(rootfs, f.path);
      mkdirSync(dirname(at), { recursive: true });
      copyFileSync(f.source, at);
      chmodSync(at, f.mode);
    }
    // Reproducible: sorted names, epoch times, root owner; uncompressed, as a layer may be.
    const tar = (cwd: string, out: string, names: string[]) =>
      execa('tar', ['--sort=name', '--mtime=@0', '--owner=0', '--group=0', '--numeric-owner', '-C', cwd, '-cf', out, ...names], { timeout: 120_000 });
    const layer = join(work, 'layer.tar');
    await tar(rootfs, layer, opts.files.map((f) => f.path));
    const put = (path: string) => {
      const digest = createHash('sha256').update(readFileSync(path)).digest('hex');
      copyFileSync(path, join(blobs, digest));
      return { digest: `sha256:${digest}`, size: statSync(path).size };
    };
    const putJson = (name: string, doc: unknown) => {
      writeFileSync(join(work, name), JSON.stringify(doc));
      return put(join(work, name));
    };
    const layerBlob = put(layer);
    const config = putJson('config.json', {
      architecture: ARCH,
      os: 'linux',
      created: '1970-01-01T00:00:00Z',
      config: { Entrypoint: opts.entrypoint, WorkingDir: '/', ...(opts.user ? { User: opts.user } : {}) },
      rootfs: { type: 'layers', diff_ids: [layerBlob.digest] },
      history: [{ created: '1970-01-01T00:00:00Z', created_by: 'test/support/oci.ts' }],
    });
    const manifest = putJson('manifest.json', {
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', ...layerBlob }],
    });
    writeFileSync(join(work, 'oci', 'index.json'), JSON.stringify({
      schemaVersion: 2,
      manifests: [{
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        ...manifest,
        platform: { architecture: ARCH, os: 'linux' },
        annotations: { 'io.containerd.image.name': opts.ref, 'org.opencontainers.image.ref.name': opts.ref.split(':').pop() },
      }],
    }));
    writeFileSync(join(work, 'oci', 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
    mkdirSync(dirname(opts.out), { recursive: true });
    await tar(join(work, 'oci'), opts.out, ['oci-layout', 'index.json', 'blobs']);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
