import { describe, it, expect } from 'vitest';
import { isPciAddress, parsePciAddress } from '../../../src/node/pci.js';
import { thrown } from '../../support/thrown.js';

describe('parsePciAddress', () => {
  it.each([
    ['0000:42:00.2', '0000:42:00.2', 'the canonical form'],
    ['0000:AF:06.1', '0000:af:06.1', 'upper-case hex, lower-cased'],
    ['0000:84:1f.7', '0000:84:1f.7', 'function 7'],
  ])('accepts %j as %j (%s)', (raw, want) => {
    expect(parsePciAddress(raw, 'runtimeConfig.deviceID')).toBe(want);
  });

  it.each([
    ['../../etc', 'a relative path'],
    ['0000:42:00.2/../..', 'an address followed by a path'],
    ['42:00.2', 'no domain'],
    ['0000:42:00.8', 'function 8 (functions are 0-7)'],
    ['', 'the empty string'],
    ['0000:42:00.2\n/x', 'an address with a second line'],
    ['  0000:42:00.2  ', 'surrounding spaces (lower-cased, then matched as it is)'],
    ['0000:42:00.2\n', 'a trailing newline'],
    ['0000:42:00', 'no function'],
    ['0000:g2:00.2', 'a non-hex digit'],
  ])('refuses %j (%s) with code 7, naming the value and its source', (raw) => {
    const err = thrown(() => parsePciAddress(raw, 'pciBusID'));
    expect(err.code).toBe(7);
    expect(err.message).toBe(`deviceID ${JSON.stringify(raw)} from pciBusID is not a PCI address`);
    expect(err.details).toContain('0000:42:00.2');
  });
});

describe('isPciAddress', () => {
  it.each([
    ['0000:42:00.2', true],
    ['0000:AF:06.1', false], // only the lower-cased form is a path-safe address
    [' 0000:42:00.2', false],
    ['../0000:42:00.2', false],
  ])('%j → %s', (s, want) => {
    expect(isPciAddress(s)).toBe(want);
  });
});
