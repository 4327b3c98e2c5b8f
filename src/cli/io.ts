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
  /** Width of stdout when it is a terminal of known width (>0), else undefined: tables are not cut to fit a pipe. */
  stdoutColumns: number | undefined;
  /** Width of stderr when it is a terminal of known width (>0): spinners run only then (a 0-column terminal made ora spin at 99% CPU). */
  stderrColumns: number | undefined;
  /** Height of the terminal on stdout, when known. */
  stdoutRows: number | undefined;
  /** Writes a line to stdout. */
  out(line?: string): void;
  /** Writes a status or hint line to stderr. */
  err(line?: string): void;
  /** Resolves when the process is asked to stop (SIGINT, SIGTERM); for long-running commands. */
  untilShutdown(): Promise<string>;
  /** Calls fn on each SIGHUP (policy reload); returns a function that stops listening. */
  onHangup(fn: () => void): () => void;
  /** Calls fn on Ctrl-C (SIGINT) while registered; returns a function that stops listening. */
  onInterrupt(fn: () => void): () => void;
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
  onInterrupt?: (fn: () => void) => () => void;
  stdoutColumns?: number;
  stderrColumns?: number;
  stdoutRows?: number;
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
    onInterrupt: opts.onInterrupt ?? (() => () => {}),
    stdoutColumns: known(opts.stdoutColumns),
    stderrColumns: known(opts.stderrColumns),
    stdoutRows: known(opts.stdoutRows),
  };
}

const known = (n: number | undefined): number | undefined => (n !== undefined && Number.isFinite(n) && n > 0 ? n : undefined);

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
    onInterrupt: (fn) => {
      process.on("SIGINT", fn);
      return () => void process.off("SIGINT", fn);
    },
    stdoutColumns: process.stdout.isTTY ? process.stdout.columns : undefined,
    stderrColumns: process.stderr.isTTY ? process.stderr.columns : undefined,
    stdoutRows: process.stdout.isTTY ? process.stdout.rows : undefined,
  });
}
