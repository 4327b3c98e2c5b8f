/**
 * The CLI entry: parses argv, runs the command, and turns every error into a message and SPEC's exit code.
 * It imports almost nothing up front: `jit --version` and `jit --help` answer before commander, chalk or the
 * command tree load (they were most of jit's start-up time), everything else is imported when it is needed.
 */
import { readFileSync } from "node:fs";
import module from "node:module";
import { homedir } from "node:os";
import { isAbsolute, join } from "node:path";
import type { Command } from "commander";
import type { JitError } from "../errors.ts";
import type { CliContext } from "./context.ts";
import type { IO } from "./io.ts";

export const VERSION = (JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string }).version;

/** Prints an error the way SPEC.md says: one object on stderr with --json, else a line and a hint; pending is a notice. */
export function reportError(io: IO, err: JitError, json: boolean): void {
  if (json) {
    io.err(JSON.stringify(err.toJSON()));
    return;
  }
  // A pending request is not something that went wrong: it is where the process stands.
  const label = err.code === "pending" ? io.colorErr.yellow("pending:") : io.colorErr.red("error:");
  io.err(`${label} ${err.message}`);
  if (err.hint) io.err(`${io.colorErr.dim("hint:")} ${err.hint}`);
}

/** "jit audit list" for argv ["audit", "list", "--bogus"]: the deepest command the words name. */
function commandPath(program: Command, argv: string[]): string {
  const path = ["jit"];
  let cmd = program;
  for (const word of argv) {
    if (word.startsWith("-")) continue;
    const next = cmd.commands.find((c) => c.name() === word);
    if (!next) break;
    path.push(word);
    cmd = next;
  }
  return path.join(" ");
}

/** The answer for argv that needs no command tree (`--version`, `-v`, `--help`), or undefined. */
export async function fastAnswer(argv: string[]): Promise<string | undefined> {
  if (argv.length !== 1) return undefined;
  const [a] = argv;
  if (a === "--version" || a === "-v" || a === "-V") return `${VERSION}\n`;
  if (a === "--help" || a === "-h") return (await import("./help-text.ts")).HELP_TEXT;
  return undefined;
}

/** Runs the CLI and returns the exit code; never exits the process itself. */
export async function main(argv: string[], io: IO): Promise<number> {
  const fast = await fastAnswer(argv);
  if (fast !== undefined) {
    io.stdout.write(fast);
    return 0;
  }
  const [{ createContext }, { buildProgram }] = await Promise.all([import("./context.ts"), import("./program.ts")]);
  const ctx = createContext(io, VERSION);
  const program = buildProgram(ctx);
  // `--json FIELDS` becomes --json --json-fields FIELDS, so commander's --json never swallows a command's argument.
  const words = argv.some((a) => a.startsWith("--json")) ? (await import("./json-output.ts")).splitJsonFlag(program, argv) : argv;
  try {
    return await runParsed(program, words, ctx);
  } finally {
    ctx.updateCheck?.finish();
  }
}

/** Parses and runs the command; every error becomes its message and exit code. */
async function runParsed(program: Command, words: string[], ctx: CliContext): Promise<number> {
  const { io } = ctx;
  const [{ CommanderError }, { EXIT_CODES, JitError }, { INTERRUPTED_EXIT, Interrupted }] = await Promise.all([
    import("commander"),
    import("../errors.ts"),
    import("./interrupted.ts"),
  ]);
  const json = words.includes("--json");
  // Errors are one JSON object with --json; --jq alone (which implies --json for the output) keeps them readable.
  const errorsAsJson = () => json || (Boolean(ctx.flags.json) && ctx.flags.jq === undefined);
  try {
    await program.parseAsync(words, { from: "user" });
    return ctx.exitCode ?? 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === "commander.helpDisplayed" || err.code === "commander.version" || err.code === "commander.help") return 0;
      const message = err.message.replace(/^error:\s*/i, "");
      reportError(io, new JitError("usage", message, { hint: `see ${commandPath(program, words)} --help` }), json);
      return EXIT_CODES.usage;
    }
    if (err instanceof Interrupted) {
      const asJson = errorsAsJson();
      // Nothing was withdrawn: with --json the one error object says so with the request's own code.
      if (asJson && err.notice) io.err(JSON.stringify({ error: { code: "pending", message: err.notice, interrupted: true, ...err.details } }));
      else if (err.notice) io.err(`${io.colorErr.yellow("interrupted:")} ${err.notice}`);
      return INTERRUPTED_EXIT;
    }
    return failed(io, err, errorsAsJson(), json);
  }
}

/** Reports a command's failure (a JitError as itself, anything else as unexpected) and returns its exit code. */
async function failed(io: IO, err: unknown, errorsAsJson: boolean, unexpectedAsJson: boolean): Promise<number> {
  const { EXIT_CODES, JitError } = await import("../errors.ts");
  if (err instanceof JitError) {
    reportError(io, err, errorsAsJson);
    return EXIT_CODES[err.code];
  }
  const e = err instanceof Error ? err : new Error(String(err));
  reportError(io, new JitError("internal", `unexpected error: ${e.message}`, { hint: "set JIT_DEBUG=1 for details, and report it" }), unexpectedAsJson);
  if (io.env.JIT_DEBUG) io.err(e.stack ?? "");
  return EXIT_CODES.internal;
}

/**
 * Caches V8's compiled code for jit's modules in the person's own cache directory ($XDG_CACHE_HOME/jit, never a
 * shared /tmp another user could fill): each run then skips compiling commander, chalk and the command tree.
 */
function enableCompileCache(env: NodeJS.ProcessEnv): void {
  if (env.NODE_COMPILE_CACHE !== undefined || env.NODE_DISABLE_COMPILE_CACHE !== undefined) return; // the person chose
  const base = env.XDG_CACHE_HOME && isAbsolute(env.XDG_CACHE_HOME) ? env.XDG_CACHE_HOME : join(env.HOME || homedir(), ".cache");
  try {
    module.enableCompileCache?.(join(base, "jit", "compile-cache"));
  } catch {
    // A cache is an optimisation: without one jit is only slower.
  }
}

/**
 * `jit mcp` exactly, as every MCP client config starts it: the server without the command tree (commander and every
 * command's module), which an agent would otherwise wait for before its first `initialize` is answered. Anything
 * else after `mcp` (`--help`, `config`, a flag) goes through main() as usual.
 */
async function mcpFast(io: IO): Promise<number> {
  const [{ createContext }, { mcpCommand }] = await Promise.all([import("./context.ts"), import("./commands/mcp.ts")]);
  try {
    await mcpCommand(createContext(io, VERSION));
    return 0;
  } catch (err) {
    return failed(io, err, false, false);
  }
}

/** The process entry used by bin/jit.js: the only place that sets the exit code. */
export async function run(): Promise<void> {
  // `jit query ... | head` closes the pipe early: that is the reader's choice, not an error to print a stack for.
  process.stdout.on("error", (err: NodeJS.ErrnoException) => {
    if (err.code === "EPIPE") process.exit(0);
    throw err;
  });
  const argv = process.argv.slice(2);
  const fast = await fastAnswer(argv);
  if (fast !== undefined) {
    process.stdout.write(fast);
    return;
  }
  enableCompileCache(process.env);
  const { processIO } = await import("./io.ts");
  const code = argv.length === 1 && argv[0] === "mcp" ? await mcpFast(processIO()) : await main(argv, processIO());
  // Flush what is buffered for a pipe before leaving: a reader of `jit query --format csv | ...` gets every byte.
  await new Promise<void>((resolve) => process.stdout.write("", () => resolve()));
  process.exit(code);
}
