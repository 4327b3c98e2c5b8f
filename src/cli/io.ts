/** Injected I/O: streams, environment, terminal facts and colour. Commands never touch process.* directly. */
import type { Readable, Writable } from "node:stream";
import { Chalk, type ChalkInstance } from "chalk";

export interface IO {
  stdout: Writable;
  stderr: Writable;
  stdin: Readable;
  env: NodeJS.ProcessEnv;
  isStdoutTTY: boolean;
  isStderrTTY: boolean;
  isStdinTTY: boolean;
  /** Colours for stdout (off when it is not a terminal, NO_COLOR set, unless FORCE_COLOR). */
  color: ChalkInstance;
  /** Colours for stderr. */
  colorErr: ChalkInstance;
  /** Prompts and spinners only when both stdin and stderr are terminals. */
  canPrompt: boolean;
  /** Writes a line to stdout. */
  out(line?: string): void;
  /** Writes a status or hint line to stderr. */
  err(line?: string): void;
  /** Resolves when the process is asked to stop (SIGINT, SIGTERM); for long-running commands. */
  untilShutdown(): Promise<string>;
  /** Calls fn on each SIGHUP (policy reload); returns a function that stops listening. */
  onHangup(fn: () => void): () => void;
}

function colourLevel(env: NodeJS.ProcessEnv, tty: boolean): 0 | 1 | 2 | 3 {
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== "0" && env.FORCE_COLOR !== "false") return 1;
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== "") return 0;
  if (env.FORCE_COLOR === "0" || env.FORCE_COLOR === "false") return 0;
  return tty && env.TERM !== "dumb" ? 1 : 0;
}

/** Builds an IO over the given streams. */
export function makeIO(opts: {
  stdout: Writable; stderr: Writable; stdin: Readable; env: NodeJS.ProcessEnv;
  isStdoutTTY: boolean; isStderrTTY: boolean; isStdinTTY: boolean;
  untilShutdown?: () => Promise<string>;
  onHangup?: (fn: () => void) => () => void;
}): IO {
  const color = new Chalk({ level: colourLevel(opts.env, opts.isStdoutTTY) });
  const colorErr = new Chalk({ level: colourLevel(opts.env, opts.isStderrTTY) });
  return {
    ...opts,
    color,
    colorErr,
    canPrompt: opts.isStdinTTY && opts.isStderrTTY,
    out: (line = "") => void opts.stdout.write(`${line}\n`),
    err: (line = "") => void opts.stderr.write(`${line}\n`),
    untilShutdown: opts.untilShutdown ?? (() => new Promise<string>(() => {})),
    onHangup: opts.onHangup ?? (() => () => {}),
  };
}

/** The real process's IO. */
export function processIO(): IO {
  return makeIO({
    stdout: process.stdout,
    stderr: process.stderr,
    stdin: process.stdin,
    env: process.env,
    isStdoutTTY: Boolean(process.stdout.isTTY),
    isStderrTTY: Boolean(process.stderr.isTTY),
    isStdinTTY: Boolean(process.stdin.isTTY),
    untilShutdown: () =>
      new Promise<string>((resolve) => {
        process.once("SIGINT", () => resolve("SIGINT"));
        process.once("SIGTERM", () => resolve("SIGTERM"));
      }),
    onHangup: (fn) => {
      process.on("SIGHUP", fn);
      return () => void process.off("SIGHUP", fn);
    },
  });
}
