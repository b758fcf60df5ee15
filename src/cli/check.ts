/** One line of doctor's report: what doctor.ts and doctor-cni.ts both make. */
export type Status = 'PASS' | 'WARN' | 'FAIL';

export interface Check {
  /** "node", or the PF ("0000:42:00.0 enp66s0f0np0") the check is about. */
  scope: string;
  check: string;
  status: Status;
  detail: string;
  fix?: string;
}
