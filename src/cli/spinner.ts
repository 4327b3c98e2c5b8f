/**
 * The one spinner: ora, started only on a terminal of known width, never holding stdin, coloured only when stderr's colour is on.
 * ora's default `discardStdin: true` put stdin in raw mode and swallowed Ctrl-C (ora issue 253), and with
 * `columns === 0` (under `script`, some CI runners) it divided by zero and spun at 99% CPU.
 */
import type { IO } from "./io.ts";

export interface Spinner {
  update(text: string): void;
  /** Clears the spinner line; safe to call more than once. */
  stop(): void;
}

/** Starts a spinner on stderr, or returns null where none belongs (no terminal, unknown width, no prompt possible). */
export async function startSpinner(io: IO, text: string): Promise<Spinner | null> {
  if (!io.canPrompt || io.stderrColumns === undefined || io.env.TERM === "dumb") return null;
  const ora = (await import("ora")).default;
  const s = ora({
    text,
    stream: io.stderr as NodeJS.WriteStream,
    discardStdin: false,
    color: io.colorErr.level > 0 ? "cyan" : false,
    isEnabled: true,
  }).start();
  let stopped = false;
  return {
    update: (t) => {
      if (!stopped) s.text = t;
    },
    stop: () => {
      if (stopped) return;
      stopped = true;
      s.stop();
    },
  };
}
