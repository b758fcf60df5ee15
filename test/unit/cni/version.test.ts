import { describe, it, expect } from 'vitest';
import { requireSupported, SUPPORTED_VERSIONS, versionAtLeast, versionResult } from '../../../src/cni/version.js';
import { thrown } from '../../support/thrown.js';

describe('versionAtLeast', () => {
  it.each([
    ['1.1.0', '1.0.0', true],
    ['1.0.0', '1.0.0', true],
    ['1.0.0', '1.1.0', false],
    ['0.4.0', '1.0.0', false],
    ['0.3.1', '0.3.0', true],
    ['0.3.0', '0.3.1', false],
    ['0.10.0', '0.4.0', true], // numeric, not lexical
    ['1.0', '1.0.0', true], // a missing part counts as 0
  ])('%s ≥ %s is %s', (v, min, want) => {
    expect(versionAtLeast(v, min)).toBe(want);
  });
});

describe('requireSupported', () => {
  it.each(SUPPORTED_VERSIONS.map((v) => [v]))('accepts %s', (v) => {
    expect(requireSupported(v)).toBe(v);
  });

  it.each([
    ['0.2.0', '"0.2.0"'],
    ['2.0.0', '"2.0.0"'],
    [undefined, '""'],
    ['1.1', '"1.1"'],
    [1, '1'],
  ])('refuses %j with code 1 and lists the supported versions', (v, shown) => {
    const err = thrown(() => requireSupported(v));
    expect(err.code).toBe(1);
    expect(err.message).toBe('incompatible CNI versions');
    expect(err.details).toBe(`config is ${shown}, plugin supports [0.3.0 0.3.1 0.4.0 1.0.0 1.1.0]`);
  });
});

describe('versionResult', () => {
  const supportedVersions = ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'];
  it.each([
    ['0.4.0', '0.4.0', 'a supported config version is echoed'],
    ['1.0.0', '1.0.0', 'a supported config version is echoed'],
    ['0.2.0', '1.1.0', 'an unsupported version answers with our latest'],
    [undefined, '1.1.0', 'no version answers with our latest'],
  ])('stdin version %j → cniVersion %s (%s)', (stdin, want, _why) => {
    expect(versionResult(stdin)).toEqual({ cniVersion: want, supportedVersions });
  });
});
