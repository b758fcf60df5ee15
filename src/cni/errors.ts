/**
 * CNI error codes (docs/upstream.md#cni-error-codes, docs/errors.md#error-codes). Each error is created where
 * its cause is known and travels up unchanged to be printed once.
 */
export const Code = {
  IncompatibleVersion: 1,
  InvalidEnvironment: 4,
  IOFailure: 5,
  DecodingFailure: 6,
  InvalidConfig: 7,
  TryAgainLater: 11,
  PluginNotAvailable: 50,
  LimitedConnectivity: 51,
  NoDeviceID: 101,
  NotAVf: 102,
  NotSwitchdev: 103,
  HwTcOffloadOff: 104,
  NoRepresentor: 105,
  PfInBond: 106,
  OvsHwOffloadOff: 107,
  WrongVfDriver: 108,
  /** CHECK: the pod's interface from prevResult is missing or changed in its netns. */
  PodInterfaceChanged: 109,
  /** ADD (shim, offload.verify strict): the daemon answered, but the representor is not a bound br-int port of the pod. */
  PortNotBound: 110,
  Internal: 999,
} as const;
export type CodeValue = (typeof Code)[keyof typeof Code];

export class CniError extends Error {
  constructor(
    readonly code: CodeValue,
    /** One line naming the cause. */
    msg: string,
    /** Which device, and the command that fixes it. */
    readonly details = '',
  ) {
    super(msg);
    this.name = 'CniError';
  }

  toJSON(cniVersion: string): { cniVersion: string; code: number; msg: string; details?: string } {
    return {
      cniVersion,
      code: this.code,
      msg: this.message,
      ...(this.details ? { details: this.details } : {}),
    };
  }
}

/** Any thrown value as a CniError; unknown failures keep their text under code 999. */
export function asCniError(err: unknown): CniError {
  if (err instanceof CniError) return err;
  const text = err instanceof Error ? err.message : String(err);
  return new CniError(Code.Internal, `internal error: ${firstLine(text)}`, text);
}

export function firstLine(text: string): string {
  const line = text.split('\n').find((l) => l.trim() !== '') ?? '';
  return line.trim();
}
