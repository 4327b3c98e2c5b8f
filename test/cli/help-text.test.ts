/** `jit --help` is answered from prebuilt text (src/cli/help-text.ts) before commander loads: it must equal commander's help. */
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { PassThrough } from "node:stream";
import { test } from "node:test";
import { createContext } from "../../src/cli/context.ts";
import { HELP_TEXT } from "../../src/cli/help-text.ts";
import { makeIO } from "../../src/cli/io.ts";
import { buildProgram } from "../../src/cli/program.ts";

const FILE = new URL("../../src/cli/help-text.ts", import.meta.url);

/** The top-level help as commander writes it. */
function commanderHelp(): string {
  const stdout = new PassThrough();
  let out = "";
  stdout.on("data", (d) => (out += d));
  const io = makeIO({ stdout, stderr: new PassThrough(), stdin: new PassThrough(), env: {}, isStdoutTTY: false, isStderrTTY: false, isStdinTTY: false });
  buildProgram(createContext(io, "0.0.0")).outputHelp();
  return out;
}

test("the prebuilt jit --help equals commander's (regenerate: JIT_UPDATE_HELP=1 node --test test/cli/help-text.test.ts)", () => {
  const help = commanderHelp();
  if (process.env.JIT_UPDATE_HELP === "1") {
    const body = `/** Generated from the command tree by test/cli/help-text.test.ts (JIT_UPDATE_HELP=1): \`jit --help\` without loading commander. */\nexport const HELP_TEXT = ${JSON.stringify(help)};\n`;
    if (readFileSync(FILE, "utf8") !== body) writeFileSync(FILE, body);
    return;
  }
  assert.equal(HELP_TEXT, help, "src/cli/help-text.ts is stale: JIT_UPDATE_HELP=1 node --test test/cli/help-text.test.ts");
});
