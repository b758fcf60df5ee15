import { describe, it, expect } from 'vitest';
import { parseCniArgs, parseEnv, podIdentity, type CniEnv } from '../../../src/cni/env.js';
import { thrown } from '../../support/thrown.js';

const ADD_ENV = {
  CNI_COMMAND: 'ADD',
  CNI_CONTAINERID: '5b45c61b307e0a7f',
  CNI_NETNS: '/var/run/netns/cni-1',
  CNI_IFNAME: 'net1',
  CNI_PATH: '/opt/cni/bin',
  CNI_ARGS: 'IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web-0',
};

describe('parseEnv', () => {
  it('reads an ADD environment', () => {
    const env = parseEnv(ADD_ENV);
    expect(env).toEqual({
      command: 'ADD',
      containerId: '5b45c61b307e0a7f',
      netns: '/var/run/netns/cni-1',
      ifname: 'net1',
      path: '/opt/cni/bin',
      args: new Map([['IgnoreUnknown', '1'], ['K8S_POD_NAMESPACE', 'default'], ['K8S_POD_NAME', 'web-0']]),
    });
  });

  it.each([
    ['ADD', 'CNI_CONTAINERID,CNI_NETNS,CNI_IFNAME,CNI_PATH'],
    ['CHECK', 'CNI_CONTAINERID,CNI_NETNS,CNI_IFNAME,CNI_PATH'],
    ['DEL', 'CNI_CONTAINERID,CNI_IFNAME,CNI_PATH'],
    ['STATUS', 'CNI_PATH'],
    ['GC', 'CNI_PATH'],
  ])('CNI_COMMAND=%s alone is refused with code 4 naming [%s]', (command, missing) => {
    const err = thrown(() => parseEnv({ CNI_COMMAND: command }));
    expect(err.code).toBe(4);
    expect(err.message).toBe(`required env variables [${missing}] missing`);
    expect(err.details).toBe(`CNI_COMMAND=${command}`);
  });

  it.each(['CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME', 'CNI_PATH'])('ADD without %s names only that variable', (key) => {
    const err = thrown(() => parseEnv({ ...ADD_ENV, [key]: undefined }));
    expect(err.code).toBe(4);
    expect(err.message).toBe(`required env variables [${key}] missing`);
  });

  it('an empty variable counts as missing', () => {
    const err = thrown(() => parseEnv({ ...ADD_ENV, CNI_PATH: '' }));
    expect(err.message).toBe('required env variables [CNI_PATH] missing');
  });

  it('DEL succeeds without CNI_NETNS (the netns may already be gone)', () => {
    const { CNI_NETNS: _gone, ...env } = ADD_ENV;
    expect(parseEnv({ ...env, CNI_COMMAND: 'DEL' })).toMatchObject({ command: 'DEL', netns: '', ifname: 'net1' });
  });

  it('VERSION needs no other variable', () => {
    expect(parseEnv({ CNI_COMMAND: 'VERSION' })).toEqual({
      command: 'VERSION', containerId: '', netns: '', ifname: '', path: '', args: new Map(),
    });
  });

  it.each([['FOO'], ['add'], ['']])('CNI_COMMAND=%j is refused with code 4', (command) => {
    const err = thrown(() => parseEnv({ ...ADD_ENV, CNI_COMMAND: command }));
    expect(err.code).toBe(4);
    expect(err.message).toBe(`unknown CNI_COMMAND: ${JSON.stringify(command)}`);
    expect(err.details).toContain('ADD, DEL, CHECK, STATUS, GC, VERSION');
  });

  it('an unset CNI_COMMAND is refused with code 4', () => {
    const { CNI_COMMAND: _unset, ...env } = ADD_ENV;
    expect(() => parseEnv(env)).toThrow(expect.objectContaining({ code: 4, message: 'unknown CNI_COMMAND: ""' }));
  });

  it.each([['a/b'], ['../etc'], ['-abc'], ['a b'], ['.hidden']])('container id %j is refused with code 4', (id) => {
    const err = thrown(() => parseEnv({ ...ADD_ENV, CNI_CONTAINERID: id }));
    expect(err.code).toBe(4);
    expect(err.message).toBe(`invalid CNI_CONTAINERID ${JSON.stringify(id)}`);
  });

  it.each([['cnitool-3f1c0e2b9a77'], ['5b45c61b307e0a7f'], ['A_b.c-d']])('container id %j is accepted', (id) => {
    expect(parseEnv({ ...ADD_ENV, CNI_CONTAINERID: id }).containerId).toBe(id);
  });

  it.each([
    ['a'.repeat(16), 'longer than 15 bytes'],
    ['é'.repeat(8), 'longer than 15 bytes'], // 8 characters, 16 bytes
    ['a:b', 'containing "/", ":" or white space'],
    ['a b', 'containing "/", ":" or white space'],
    ['eth0\t', 'containing "/", ":" or white space'],
    ['a/b', 'containing "/", ":" or white space'],
    ['.', 'a reserved name'],
    ['..', 'a reserved name'],
  ])('ifname %j is refused with code 4: %s', (ifname, why) => {
    const err = thrown(() => parseEnv({ ...ADD_ENV, CNI_IFNAME: ifname }));
    expect(err.code).toBe(4);
    expect(err.message).toBe(`invalid CNI_IFNAME ${JSON.stringify(ifname)}: ${why}`);
  });

  it.each([['a'.repeat(15)], ['eth0'], ['net1'], ['enp66s0f0v2']])('ifname %j is accepted', (ifname) => {
    expect(parseEnv({ ...ADD_ENV, CNI_IFNAME: ifname }).ifname).toBe(ifname);
  });

  it('a malformed CNI_ARGS pair is skipped, as kube-ovn skips it', () => {
    expect(parseEnv({ ...ADD_ENV, CNI_ARGS: 'IgnoreUnknown;K8S_POD_NAME=x' }).args).toEqual(new Map([['K8S_POD_NAME', 'x']]));
  });
});

describe('parseCniArgs', () => {
  it.each([
    ['IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web-0', [['IgnoreUnknown', '1'], ['K8S_POD_NAMESPACE', 'default'], ['K8S_POD_NAME', 'web-0']], 'the usual runtime arguments'],
    ['K8S_POD_UID=5f0c;FOO=bar', [['K8S_POD_UID', '5f0c'], ['FOO', 'bar']], 'unknown keys are kept, never refused'],
    ['K8S_POD_NAME=a;K8S_POD_NAME=b', [['K8S_POD_NAME', 'a']], 'the first value wins'],
    ['K8S_POD_NAME=;K8S_POD_NAME=web-0', [['K8S_POD_NAME', 'web-0']], 'the first non-empty value wins, as in kube-ovn'],
    ['K=a=b', [['K', 'a=b']], 'a value may contain "="'],
    ['K=', [['K', '']], 'a value may be empty'],
    ['A=1;;B=2;', [['A', '1'], ['B', '2']], 'empty pairs are skipped'],
    ['', [], 'the empty string is no arguments'],
  ])('%j → %j (%s)', (text, want) => {
    expect(parseCniArgs(text)).toEqual(new Map(want as Array<[string, string]>));
  });

  it.each([
    ['IgnoreUnknown', []],
    ['A=1;B', [['A', '1']]],
    ['=v;K8S_POD_NAME=web-0', [['K8S_POD_NAME', 'web-0']]],
  ])('%j: pairs without a key or "=" are skipped, as kube-ovn\'s parseValueFromArgs skips them', (text, want) => {
    expect(parseCniArgs(text)).toEqual(new Map(want as Array<[string, string]>));
  });
});

describe('podIdentity', () => {
  const withArgs = (text: string): CniEnv => ({
    command: 'ADD', containerId: '5b45c61b307e0a7f', netns: '/var/run/netns/cni-1', ifname: 'net1', path: '/opt/cni/bin', args: parseCniArgs(text),
  });

  it('reads the pod name and namespace', () => {
    expect(podIdentity(withArgs('IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web-0'))).toEqual({ name: 'web-0', namespace: 'default' });
  });

  it.each([
    ['K8S_POD_NAMESPACE=default', 'K8S_POD_NAME is required in CNI_ARGS'],
    ['K8S_POD_NAME=web-0', 'K8S_POD_NAMESPACE is required in CNI_ARGS'],
    ['', 'K8S_POD_NAME and K8S_POD_NAMESPACE are required in CNI_ARGS'],
    ['IgnoreUnknown=1', 'K8S_POD_NAME and K8S_POD_NAMESPACE are required in CNI_ARGS'],
    ['K8S_POD_NAME=;K8S_POD_NAMESPACE=default', 'K8S_POD_NAME is required in CNI_ARGS'],
  ])('CNI_ARGS %j is refused with code 7: %s', (text, msg) => {
    const err = thrown(() => podIdentity(withArgs(text)));
    expect(err.code).toBe(7);
    expect(err.message).toBe(msg);
    expect(err.details).toContain(`CNI_ARGS=${JSON.stringify(text)}`);
  });
});
