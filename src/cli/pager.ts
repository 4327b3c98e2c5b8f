/** Long output on a terminal goes through a pager, as gh does: JIT_PAGER, else the config's pager, else PAGER, else less. */
import { spawn } from "node:child_process";
import type { IO } from "./io.ts";

/** The pager command to use, or undefined for none: never when stdout is not a terminal; "" or "cat" switch it off. */
export function pagerCommand(io: IO, configured?: string): string | undefined {
  if (!io.isStdoutTTY) return undefined;
  const cmd = (io.env.JIT_PAGER ?? configured ?? io.env.PAGER ?? "less").trim();
  return cmd === "" || cmd === "cat" ? undefined : cmd;
}

/**
 * Writes `text` (plus a newline) to stdout, through the pager when it is taller than the terminal.
 * less gets LESS=FRX unless set (quit if one screen, keep colours, leave the text on screen), like gh.
 * A pager that cannot start falls back to writing directly; Ctrl-C belongs to the pager while it runs.
 */
export async function writePaged(io: IO, text: string, configured?: string): Promise<void> {
  const cmd = pagerCommand(io, configured);
  const lines = text.split("\n").length;
  if (!cmd || io.stdoutRows === undefined || lines < io.stdoutRows - 1) return io.out(text);
  const env = { ...io.env, LESS: io.env.LESS ?? "FRX", LV: io.env.LV ?? "-c" };
  const started = await new Promise<boolean>((resolve) => {
    const child = spawn("/bin/sh", ["-c", cmd], { stdio: ["pipe", "inherit", "inherit"], env });
    const stop = io.onInterrupt(() => {});
    child.on("error", () => (stop(), resolve(false)));
    child.stdin.on("error", () => {}); // the pager quit early (q): not an error
    child.on("close", (code) => (stop(), resolve(code !== 127)));
    child.stdin.end(`${text}\n`);
  });
  if (!started) io.out(text);
}
