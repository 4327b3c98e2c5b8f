/** Completion scripts: the shipped files match the command tree, and each completes in its real shell (bash, zsh, fish). */
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { COMPLETION_FILES, completionScript, SHELLS } from "../../src/cli/completion.ts";
import { createContext } from "../../src/cli/context.ts";
import { makeIO } from "../../src/cli/io.ts";
import { buildProgram } from "../../src/cli/program.ts";
import { type DevBrokerProcess, JIT_BIN, runJit, startBroker } from "../e2e/harness.ts";

const io = makeIO({ stdout: new PassThrough(), stderr: new PassThrough(), stdin: new PassThrough(), env: {}, isStdoutTTY: false, isStderrTTY: false, isStdinTTY: false });
const program = buildProgram(createContext(io, "0.0.0"));
const has = (cmd: string) => spawnSync("sh", ["-c", `command -v ${cmd}`]).status === 0;

// A directory with a file and a subdirectory, so file and directory completion have something to find.
const dir = mkdtempSync(join(tmpdir(), "jit-compl-"));
writeFileSync(join(dir, "policy.yaml"), "version: 1\n");
writeFileSync(join(dir, "report.sql"), "SELECT 1\n");
mkdirSync(join(dir, "state"));
// Shell set-up files live elsewhere, so they do not show up as candidates.
const aux = mkdtempSync(join(tmpdir(), "jit-compl-aux-"));
after(() => {
  rmSync(dir, { recursive: true, force: true });
  rmSync(aux, { recursive: true, force: true });
});

test("the scripts in completions/ are up to date with the command tree (npm run completions)", () => {
  for (const shell of SHELLS) {
    const shipped = readFileSync(new URL(`../../${COMPLETION_FILES[shell]}`, import.meta.url), "utf8");
    assert.equal(shipped, completionScript(program, shell), `${COMPLETION_FILES[shell]} is stale: run npm run completions`);
  }
});

test("bash completes subcommands, flag choices, shells, files and directories", () => {
  const script = completionScript(program, "bash");
  const complete = (words: string[]) =>
    execFileSync("bash", ["-c", `${script}\nCOMP_WORDS=(${words.map((w) => `"${w}"`).join(" ")}); COMP_CWORD=${words.length - 1}; _jit; printf '%s\\n' "\${COMPREPLY[@]}"`], { encoding: "utf8", cwd: dir }).trim().split("\n").filter(Boolean).sort();
  assert.deepEqual(complete(["jit", "req"]), ["request", "requests"]);
  assert.ok(complete(["jit", "audit", ""]).includes("verify"));
  assert.deepEqual(complete(["jit", "query", "--format", ""]), ["csv", "json", "jsonl", "table"]);
  assert.ok(complete(["jit", "query", "--"]).includes("--wait-approval"));
  assert.deepEqual(complete(["jit", "completion", ""]), ["bash", "fish", "zsh"]);
  assert.deepEqual(complete(["jit", "query", "-f", "rep"]), ["report.sql"]);
  assert.deepEqual(complete(["jit", "query", "--file", ""]), ["policy.yaml", "report.sql", "state"]);
  assert.deepEqual(complete(["jit", "policy", "check", "po"]), ["policy.yaml"]);
  assert.deepEqual(complete(["jit", "broker", "serve", "--config", "p"]), ["policy.yaml"]);
  assert.deepEqual(complete(["jit", "broker", "dev", "--data-dir", ""]), ["state"]);
  // A flag that takes free text offers nothing in its place (not the command's other flags).
  assert.deepEqual(complete(["jit", "request", "--reason", ""]), []);
});

test("fish completes with descriptions, and files only where a command takes a file", { skip: has("fish") ? false : "fish is not installed (.ci/run installs it)" }, () => {
  const file = join(aux, "jit.fish");
  writeFileSync(file, completionScript(program, "fish"));
  const complete = (line: string) =>
    execFileSync("fish", ["--no-config", "-c", `source ${file}; complete -C '${line}'`], { encoding: "utf8", cwd: dir }).trim().split("\n").filter(Boolean);
  const top = complete("jit ");
  assert.ok(top.some((l) => /^audit\tthe audit log/.test(l)), top.join("\n"));
  assert.deepEqual(complete("jit completion ").map((l) => l.split("\t")[0]).sort(), ["bash", "fish", "zsh"]);
  assert.deepEqual(complete("jit policy check ").sort(), ["policy.yaml", "report.sql", "state/"]);
  assert.deepEqual(complete("jit query -f rep"), ["report.sql"]);
  assert.deepEqual(complete("jit broker serve --config po"), ["policy.yaml"]);
  assert.deepEqual(complete("jit broker dev --data-dir ").map((l) => l.split("\t")[0]), ["state/"]);
  assert.ok(complete("jit audit list --").some((l) => /^--since\t/.test(l)));
  // No global -f, yet a command without file arguments does not offer ./*: whoami takes nothing.
  assert.deepEqual(complete("jit whoami "), []);
  // "list" under config and under audit are told apart by the full command path.
  assert.ok(!complete("jit config list --").some((l) => l.startsWith("--since")));
});

test("zsh completes natively on the first Tab, with descriptions (driven in tmux)", { skip: has("zsh") && has("tmux") ? false : "zsh or tmux is not installed (.ci/run installs them)" }, async () => {
  const fp = join(aux, "fpath");
  mkdirSync(fp, { recursive: true });
  writeFileSync(join(fp, "_jit"), completionScript(program, "zsh"));
  writeFileSync(join(aux, "zshrc"), [`fpath=(${fp} $fpath)`, `autoload -U compinit && compinit -u -d ${join(aux, "zcompdump")}`, "zstyle ':completion:*' format '<%d>'", "jit() { :; }", "PS1='$ '", "echo READY"].join("\n"));
  const sock = `jit-test-${process.pid}`;
  const tmux = (...args: string[]) => execFileSync("tmux", ["-L", sock, ...args], { encoding: "utf8" });
  tmux("new-session", "-d", "-x", "140", "-y", "40", "-c", dir, `ZDOTDIR=${aux}/none zsh -f -i`);
  try {
    const screen = async (until: RegExp) => {
      for (let i = 0; i < 50; i++) {
        const text = tmux("capture-pane", "-p");
        if (until.test(text)) return text;
        await sleep(100);
      }
      return tmux("capture-pane", "-p");
    };
    tmux("send-keys", `source ${join(aux, "zshrc")}`, "Enter");
    await screen(/READY/);
    const tab = async (typed: string, until: RegExp) => {
      tmux("send-keys", "C-c");
      tmux("send-keys", "C-l");
      await screen(/^\$ *$/m);
      tmux("send-keys", typed, "Tab");
      return screen(until);
    };
    const first = await tab("jit aud", /\$ jit audit$/m);
    assert.match(first, /\$ jit audit$/m, `the first Tab completes the command; the screen:\n${first}`);
    tmux("send-keys", "Tab"); // the line is now "jit audit ": a second Tab lists the subcommands with descriptions
    const subs = await screen(/verify +-- recompute/);
    assert.match(subs, /list +-- list audit records/);
    assert.match(await tab("jit completion ", /bash +fish +zsh/), /bash +fish +zsh/);
    assert.match(await tab("jit policy check ", /policy\.yaml/), /policy\.yaml +report\.sql +state\//);
    assert.match(await tab("jit audit list --sin", /--since$/m), /jit audit list --since$/m);
    assert.match(await tab("jit broker dev --data-dir ", /--data-dir state\//), /--data-dir state\//);
  } finally {
    tmux("kill-server");
  }
});

describe("dynamic values from the broker (jit __complete) in bash, fish and zsh", { timeout: 120_000 }, () => {
  let broker: DevBrokerProcess;
  let env: NodeJS.ProcessEnv;
  let grantId: string;
  const bin = join(aux, "bin");
  before(async () => {
    broker = await startBroker();
    assert.equal((await broker.login("alice")).code, 0);
    // `command jit` in the scripts finds this one.
    mkdirSync(bin, { recursive: true });
    writeFileSync(join(bin, "jit"), `#!/bin/sh\nexec '${process.execPath}' '${JIT_BIN}' "$@"\n`, { mode: 0o755 });
    env = { ...broker.env("alice"), PATH: `${bin}:${process.env.PATH}`, XDG_CACHE_HOME: join(aux, "cache") };
    const r = await runJit(["request", "demo.sales", "--reason", "completion test", "--json"], env);
    grantId = (JSON.parse(r.stdout) as { request: { grant_id: string } }).request.grant_id;
  });
  after(async () => {
    if (broker?.child.exitCode === null) await broker.stop();
  });

  test("jit __complete answers value<TAB>description lines from the broker", async () => {
    const tables = await runJit(["__complete", "tables", "demo.sales."], env);
    assert.equal(tables.code, 0, tables.stderr);
    assert.deepEqual(tables.stdout.trim().split("\n").map((l) => l.split("\t")[0]), ["demo.sales.customers", "demo.sales.orders"]);
    const grants = await runJit(["__complete", "grants"], env);
    assert.match(grants.stdout, new RegExp(`^${grantId}\tdemo\\.sales, expires in `));
    const datasets = await runJit(["__complete", "datasets"], env);
    assert.match(datasets.stdout, /^demo\.sales\tgranted/m);
    assert.equal(datasets.stderr, "");
  });

  test("bash completes tables, grant ids, and datasets beside jit request's subcommands", () => {
    const script = completionScript(program, "bash");
    const complete = (words: string[]) =>
      execFileSync("bash", ["-c", `${script}\nCOMP_WORDS=(${words.map((w) => `"${w}"`).join(" ")}); COMP_CWORD=${words.length - 1}; _jit; printf '%s\\n' "\${COMPREPLY[@]}"`], { encoding: "utf8", cwd: dir, env }).trim().split("\n").filter(Boolean).sort();
    assert.deepEqual(complete(["jit", "describe", "demo.sales.c"]), ["demo.sales.customers"]);
    assert.deepEqual(complete(["jit", "revoke", ""]), [grantId]);
    assert.deepEqual(complete(["jit", "request", ""]).filter((w) => w.startsWith("demo.") || ["show", "wait"].includes(w)), ["demo.hr", "demo.sales", "show", "wait"]);
  });

  test("fish completes them with descriptions", { skip: has("fish") ? false : "fish is not installed (.ci/run installs it)" }, () => {
    const file = join(aux, "jit-dyn.fish");
    writeFileSync(file, completionScript(program, "fish"));
    const complete = (line: string) =>
      execFileSync("fish", ["--no-config", "-c", `source ${file}; complete -C '${line}'`], { encoding: "utf8", cwd: dir, env }).trim().split("\n").filter(Boolean);
    const sets = complete("jit tables demo.s");
    assert.equal(sets.length, 1, sets.join("\n"));
    assert.match(sets[0]!, /^demo\.sales\tgranted, expires in \d+[mh]/);
    assert.match(complete("jit revoke ")[0]!, new RegExp(`^${grantId}\tdemo\\.sales, expires in `));
  });

  test("zsh completes a table name natively (driven in tmux)", { skip: has("zsh") && has("tmux") ? false : "zsh or tmux is not installed (.ci/run installs them)" }, async () => {
    const fp = join(aux, "fpath-dyn");
    mkdirSync(fp, { recursive: true });
    writeFileSync(join(fp, "_jit"), completionScript(program, "zsh"));
    const exports = ["PATH", "HOME", "XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME", "JIT_CREDENTIAL_STORE", "JIT_BROKER"].map((k) => `export ${k}='${env[k]}'`);
    writeFileSync(join(aux, "zshrc-dyn"), [...exports, `fpath=(${fp} $fpath)`, `autoload -U compinit && compinit -u -d ${join(aux, "zcompdump-dyn")}`, "PS1='$ '", "echo READY"].join("\n"));
    const sock = `jit-test-dyn-${process.pid}`;
    const tmux = (...args: string[]) => execFileSync("tmux", ["-L", sock, ...args], { encoding: "utf8" });
    tmux("new-session", "-d", "-x", "140", "-y", "40", "-c", dir, `ZDOTDIR=${aux}/none zsh -f -i`);
    try {
      const screen = async (until: RegExp) => {
        for (let i = 0; i < 80; i++) {
          const text = tmux("capture-pane", "-p");
          if (until.test(text)) return text;
          await sleep(100);
        }
        return tmux("capture-pane", "-p");
      };
      tmux("send-keys", `source ${join(aux, "zshrc-dyn")}`, "Enter");
      await screen(/READY/);
      tmux("send-keys", "jit describe demo.sales.cu", "Tab");
      const shown = await screen(/\$ jit describe demo\.sales\.customers/);
      assert.match(shown, /\$ jit describe demo\.sales\.customers/, `the screen:\n${shown}`);
    } finally {
      tmux("kill-server");
    }
  });

  test("answers come from a 60 s cache: Tab after Tab asks the broker once", async () => {
    const first = await runJit(["__complete", "tables", "demo.sales."], env);
    assert.match(first.stdout, /demo\.sales\.customers/);
    await broker.stop();
    const again = await runJit(["__complete", "tables", "demo.sales."], env);
    assert.equal(again.stdout, first.stdout, "the broker is gone: this came from the cache");
    const other = await runJit(["__complete", "requests"], env);
    assert.equal(other.stdout, "", "nothing cached for requests, and no broker to ask");
  });

  test("a broker that does not answer gives no values within about a second, and no message", async () => {
    const silent = createServer(() => {});
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
    const url = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`;
    try {
      // A live session for the silent broker, so jit does ask it.
      const state = join(aux, "silent-state");
      mkdirSync(join(state, "jit"), { recursive: true, mode: 0o700 });
      const session = { version: 1, issuer: `${url}/oidc`, client_id: "jit-cli", id_token: "e30.e30.x", expires_at: Math.floor(Date.now() / 1000) + 3600 };
      writeFileSync(join(state, "jit", "credentials.json"), JSON.stringify({ version: 1, entries: { [url]: JSON.stringify(session) } }), { mode: 0o600 });
      const started = Date.now();
      const r = await runJit(["__complete", "datasets"], { ...env, JIT_BROKER: url, XDG_STATE_HOME: state, XDG_CACHE_HOME: join(aux, "silent-cache") });
      const ms = Date.now() - started;
      assert.equal(r.code, 0);
      assert.equal(r.stdout + r.stderr, "");
      assert.ok(ms < 2500, `took ${ms} ms`);
    } finally {
      silent.closeAllConnections();
      silent.close();
    }
  });
});
