/** `jit help [TOPIC | COMMAND...]`: a help topic, or a command's --help. */
import type { Command } from "commander";
import { JitError } from "../../errors.ts";
import type { CliContext } from "../context.ts";
import { HELP_TOPICS } from "../help-topics.ts";

/** Prints a topic, a command's help (jit help audit list), or the overview (which lists the topics). */
export async function helpCommand(ctx: CliContext, program: Command, words: string[]): Promise<void> {
  const { io } = ctx;
  if (words.length === 1 && HELP_TOPICS[words[0]!]) return void io.stdout.write(HELP_TOPICS[words[0]!]!);
  let cmd = program;
  for (const w of words) {
    const next = cmd.commands.find((c) => c.name() === w);
    if (!next) {
      throw new JitError("usage", `no help topic or command "${words.join(" ")}"`, {
        hint: `topics: ${Object.keys(HELP_TOPICS).join(", ")}; commands: jit --help`,
      });
    }
    cmd = next;
  }
  cmd.outputHelp();
}
