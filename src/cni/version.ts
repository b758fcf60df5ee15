import { CniError, Code } from './errors.js';

export const SUPPORTED_VERSIONS = ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] as const;
export type CniVersion = (typeof SUPPORTED_VERSIONS)[number];
export const LATEST: CniVersion = '1.1.0';

export function isSupported(v: unknown): v is CniVersion {
  return typeof v === 'string' && (SUPPORTED_VERSIONS as readonly string[]).includes(v);
}

/** Compares dotted versions numerically: "0.4.0" < "1.0.0" < "1.1.0". */
export function versionAtLeast(v: string, min: string): boolean {
  const a = v.split('.').map(Number);
  const b = min.split('.').map(Number);
  for (let i = 0; i < 3; i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d > 0;
  }
  return true;
}

export function requireSupported(v: unknown): CniVersion {
  if (isSupported(v)) return v;
  throw new CniError(
    Code.IncompatibleVersion,
    'incompatible CNI versions',
    `config is ${JSON.stringify(v ?? '')}, plugin supports [${SUPPORTED_VERSIONS.join(' ')}]`,
  );
}

/** The VERSION answer: the config's version when we support it, else our latest. */
export function versionResult(stdinVersion: unknown): { cniVersion: string; supportedVersions: string[] } {
  return {
    cniVersion: isSupported(stdinVersion) ? stdinVersion : LATEST,
    supportedVersions: [...SUPPORTED_VERSIONS],
  };
}

/** The cniVersion a config on stdin names, read leniently so even an error can carry it. */
export function stdinVersion(stdin: string): string {
  try {
    const v = (JSON.parse(stdin) as { cniVersion?: unknown }).cniVersion;
    return typeof v === 'string' && v ? v : LATEST;
  } catch {
    return LATEST;
  }
}
