/** `jit completion bash|zsh|fish`: prints the completion script (the same files ship in completions/). */
import { JitError } from "../../errors.ts";
import { completionScript, SHELLS, type Shell } from "../completion.ts";
import type { CliContext } from "../context.ts";
import { buildProgram } from "../program.ts";

/** Prints the completion script for a shell. */
export async function completionCommand(ctx: CliContext, shell: string): Promise<void> {
  if (!SHELLS.includes(shell as Shell)) throw new JitError("usage", `no completion for "${shell}": choose ${SHELLS.join(", ")}`);
  ctx.io.stdout.write(completionScript(buildProgram(ctx), shell as Shell));
}
