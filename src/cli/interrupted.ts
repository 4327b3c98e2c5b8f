/** Ctrl-C while jit waits: not a failure, so not a JitError; main turns it into exit 130 and a notice. */

/** Thrown when the person interrupts a wait or leaves a picker; `notice` says what stays as it was and how to resume. */
export class Interrupted extends Error {
  readonly notice: string | undefined;
  readonly details: Record<string, unknown>;

  constructor(notice?: string, details: Record<string, unknown> = {}) {
    super(notice ?? "interrupted");
    this.name = "Interrupted";
    this.notice = notice;
    this.details = details;
  }
}

/** SPEC's exit code for an interrupted wait. */
export const INTERRUPTED_EXIT = 130;

/** Resolves (never rejects) the first time `register`'s callback fires; `dispose` stops listening. */
export function interruption(register: (fn: () => void) => () => void): { promise: Promise<void>; fired: () => boolean; dispose: () => void } {
  let fired = false;
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  const dispose = register(() => {
    fired = true;
    resolve();
  });
  return { promise, fired: () => fired, dispose };
}
