/** The CLI entry: parses argv, runs the command, and turns every error into a message and SPEC's exit code. */
import { createRequire } from "node:module";
import { type Command, CommanderError } from "commander";
import { EXIT_CODES, JitError } from "../errors.ts";
import { createContext } from "./context.ts";
import { type IO, processIO } from "./io.ts";
import { buildProgram } from "./program.ts";

const VERSION = (createRequire(import.meta.url)("../../package.json") as { version: string }).version;

/** Prints an error the way SPEC.md says: one object on stderr with --json, else a line and a hint. */
export function reportError(io: IO, err: JitError, json: boolean): void {
  if (json) {
    io.err(JSON.stringify(err.toJSON()));
    return;
  }
  io.err(`${io.colorErr.red("error:")} ${err.message}`);
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

/** Runs the CLI and returns the exit code; never exits the process itself. */
export async function main(argv: string[], io: IO): Promise<number> {
  const ctx = createContext(io, VERSION);
  const program = buildProgram(ctx);
  const json = argv.includes("--json");
  try {
    await program.parseAsync(argv, { from: "user" });
    return ctx.exitCode ?? 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === "commander.helpDisplayed" || err.code === "commander.version" || err.code === "commander.help") return 0;
      const message = err.message.replace(/^error:\s*/i, "");
      reportError(io, new JitError("usage", message, { hint: `see ${commandPath(program, argv)} --help` }), json);
      return EXIT_CODES.usage;
    }
    if (err instanceof JitError) {
      reportError(io, err, json || Boolean(ctx.flags.json));
      return EXIT_CODES[err.code];
    }
    const e = err instanceof Error ? err : new Error(String(err));
    reportError(io, new JitError("internal", `unexpected error: ${e.message}`, { hint: "set JIT_DEBUG=1 for details, and report it" }), json);
    if (io.env.JIT_DEBUG) io.err(e.stack ?? "");
    return EXIT_CODES.internal;
  }
}

/** The process entry used by bin/jit.js: the only place that sets the exit code. */
export async function run(): Promise<void> {
  // `jit query ... | head` closes the pipe early: that is the reader's choice, not an error to print a stack for.
  process.stdout.on("error", (err: NodeJS.ErrnoException) => {
    if (err.code === "EPIPE") process.exit(0);
    throw err;
  });
  const io = processIO();
  const code = await main(process.argv.slice(2), io);
  // Flush what is buffered for a pipe before leaving: a reader of `jit query --format csv | ...` gets every byte.
  await new Promise<void>((resolve) => process.stdout.write("", () => resolve()));
  process.exit(code);
}
