/** Completion scripts: the shipped files match the command tree, and bash completes commands and flag values. */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { PassThrough } from "node:stream";
import { test } from "node:test";
import { COMPLETION_FILES, completionScript, SHELLS } from "../../src/cli/completion.ts";
import { createContext } from "../../src/cli/context.ts";
import { makeIO } from "../../src/cli/io.ts";
import { buildProgram } from "../../src/cli/program.ts";

const io = makeIO({ stdout: new PassThrough(), stderr: new PassThrough(), stdin: new PassThrough(), env: {}, isStdoutTTY: false, isStderrTTY: false, isStdinTTY: false });
const program = buildProgram(createContext(io, "0.0.0"));

test("the scripts in completions/ are up to date with the command tree (npm run completions)", () => {
  for (const shell of SHELLS) {
    const shipped = readFileSync(new URL(`../../${COMPLETION_FILES[shell]}`, import.meta.url), "utf8");
    assert.equal(shipped, completionScript(program, shell), `${COMPLETION_FILES[shell]} is stale: run npm run completions`);
  }
});

test("bash completes subcommands, nested subcommands and flag choices", () => {
  const script = completionScript(program, "bash");
  const complete = (words: string[]) =>
    execFileSync("bash", ["-c", `${script}\nCOMP_WORDS=(${words.map((w) => `"${w}"`).join(" ")}); COMP_CWORD=${words.length - 1}; _jit; echo "\${COMPREPLY[*]}"`], { encoding: "utf8" }).trim().split(" ");
  assert.deepEqual(complete(["jit", "req"]), ["request", "requests"]);
  assert.ok(complete(["jit", "audit", ""]).includes("verify"));
  assert.deepEqual(complete(["jit", "query", "--format", ""]), ["table", "json", "jsonl", "csv"]);
  assert.ok(complete(["jit", "query", "--"]).includes("--wait-approval"));
});
