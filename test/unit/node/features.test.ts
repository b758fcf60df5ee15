/** hw-tc-offload from ethtool (src/node/features.ts), as the tools print it. */
import { describe, expect, it } from 'vitest';
import { ethtoolHwTcOffload, hwTcState } from '../../../src/node/features.js';
import { CniError } from '../../../src/cni/errors.js';
import { fakeRun, ok } from '../../support/fake-run.js';

describe('hwTcState', () => {
  it.each([
    [{ active: true, fixed: false, requested: true }, 'on'],
    [{ active: true, fixed: true, requested: true }, 'on'],
    [{ active: false, fixed: false, requested: false }, 'off'],
    [{ active: false, fixed: null, requested: null }, 'off'],
    [{ active: false, fixed: true, requested: false }, 'unsupported'],
    [undefined, 'unsupported'],
  ] as const)('%j → %s', (feature, want) => {
    expect(hwTcState(feature)).toBe(want);
  });
});

// `ethtool --json -k p0` as ethtool ≥ 5.17 prints it (pretty, a one-element array).
const ethtoolJson = (hwTc: string | undefined): string => `[ {
        "ifname": "p0",
        "rx-checksumming": {
            "active": true,
            "fixed": false,
            "requested": true
        },${hwTc === undefined ? '' : `
        "hw-tc-offload": ${hwTc},`}
        "hsr-dup-offload": {
            "active": false,
            "fixed": true,
            "requested": false
        }
    } ]
`;

describe('ethtoolHwTcOffload', () => {
  it.each([
    ['{"active": true, "fixed": false, "requested": true}', 'on'],
    ['{"active": false, "fixed": false, "requested": false}', 'off'],
    ['{"active": false, "fixed": true, "requested": false}', 'unsupported'],
    [undefined, 'unsupported'],
  ])('ethtool JSON hw-tc-offload %s → %s', async (hwTc, want) => {
    const run = fakeRun({ 'ethtool --json -k p0': ok(ethtoolJson(hwTc)) });
    expect(await ethtoolHwTcOffload(run, 'p0')).toEqual({ value: want, source: 'ethtool' });
  });

  it.each([
    ['hw-tc-offload: on', 'on'],
    ['hw-tc-offload: off', 'off'],
    ['hw-tc-offload: off [requested on]', 'off'],
    ['hw-tc-offload: off [fixed]', 'unsupported'],
    ['highdma: on', 'unsupported'],
  ])('ethtool without JSON for -k falls back to the text line %j → %s', async (line, want) => {
    const run = fakeRun({
      'ethtool --json -k p0': { exitCode: 1, stdout: '', stderr: 'ethtool: bad command line argument(s)\nFor more information run ethtool -h\n' },
      'ethtool -k p0': ok(`Features for p0:\nrx-checksumming: on\ntx-checksumming: on\n\ttx-checksum-ipv4: off [fixed]\n${line}\n`),
    });
    expect(await ethtoolHwTcOffload(run, 'p0')).toEqual({ value: want, source: 'ethtool (text)' });
  });

  it('without ethtool the answer is unverified, and says why', async () => {
    expect(await ethtoolHwTcOffload(fakeRun({}), 'p0')).toEqual({ source: 'none', why: 'ethtool is not installed' });
  });

  it.each([
    ['output that is not JSON', ok('Features for p0:\n'), 'ethtool printed output that is not JSON'],
    ['JSON of another shape', ok('{"ifname":"p0"}'), 'ethtool printed JSON of an unknown shape'],
    ['an hw-tc-offload entry of another shape', ok(ethtoolJson('"on"')), 'ethtool printed an hw-tc-offload entry of an unknown shape'],
    ['a failure for a missing device', { exitCode: 1, stdout: '[ ]\n', stderr: 'netlink error: no device matches name (offset 24)\nnetlink error: No such device\n' }, 'ethtool failed'],
  ])('%s is an I/O failure (code 5)', async (_name, out, msg) => {
    const err = await ethtoolHwTcOffload(fakeRun({ 'ethtool --json -k p0': out }), 'p0').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CniError);
    expect(err).toMatchObject({ code: 5, message: msg });
    expect((err as CniError).details).toContain('`ethtool --json -k p0` exited');
  });
});

// `devlink -j port show` on a node with a ConnectX PF pair and a BlueField's host-side ports.
