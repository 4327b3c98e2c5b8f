/**
 * The CLI on a real pseudo-terminal (util-linux `script`): Ctrl-C ends waits at once with exit 130, a 0-column terminal
 * gets no spinner and no busy loop, the approve picker leaves quietly on Esc/Ctrl-C and decides on Enter, tables fit
 * 80 and 140 columns, and NO_COLOR means no escape codes for colour.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { after, before, beforeEach, describe, test } from "node:test";
import { type DevBrokerProcess, JIT_BIN, runJit, startBroker } from "./harness.ts";

const hasScript = spawnSync("sh", ["-c", "command -v script"]).status === 0;
const skip = hasScript ? false : "util-linux `script` is not installed: no pseudo-terminal to test in";

const shq = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;
// SGR colour codes (ESC [ 3x m, 9x, 4x): what NO_COLOR must suppress. Cursor movement is not colour.
const COLOUR = /\u001b\[(?:3[0-9]|4[0-9]|9[0-7]|1;3[0-9])m/;

interface Pty {
  output(): string;
  /** Resolves with the output once it matches, or rejects after `ms`. */
  until(re: RegExp, ms?: number): Promise<string>;
  write(keys: string): void;
  signal(sig: NodeJS.Signals): void;
  /** Exit code and the time it took from `since` (ms since epoch). */
  exit(ms?: number): Promise<number>;
}

/** Runs `jit args` on a pseudo-terminal of `cols` x `rows` (0 x 0: a terminal that reports no size). */
function pty(args: string[], env: NodeJS.ProcessEnv, size: { cols: number; rows: number }): Pty {
  const stty = size.cols > 0 ? `stty cols ${size.cols} rows ${size.rows}; ` : "";
  const child = spawn("script", ["-qefc", `${stty}exec ${shq(process.execPath)} ${shq(JIT_BIN)} ${args.map(shq).join(" ")}`, "/dev/null"], {
    env: { ...env, TERM: "xterm-256color" },
    stdio: ["pipe", "pipe", "pipe"],
  });
  let out = "";
  child.stdout.on("data", (d) => (out += d));
  child.stderr.on("data", (d) => (out += d));
  const exited = new Promise<number>((resolve) => child.on("close", (code) => resolve(code ?? -1)));
  const kill = setTimeout(() => child.kill("SIGKILL"), 60_000);
  void exited.then(() => clearTimeout(kill));
  return {
    output: () => out,
    async until(re, ms = 15_000) {
      const end = Date.now() + ms;
      while (!re.test(out)) {
        if (Date.now() > end) throw new Error(`timed out waiting for ${re} in:\n${JSON.stringify(out)}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      return out;
    },
    write: (keys) => void child.stdin.write(keys),
    signal: (sig) => {
      // The jit process is script's child; signal it (not script) the way a terminal's kill would.
      const pid = spawnSync("pgrep", ["-P", String(child.pid)], { encoding: "utf8" }).stdout.trim().split("\n")[0];
      if (pid) process.kill(Number(pid), sig);
    },
    exit: async (ms = 20_000) => {
      const timer = setTimeout(() => child.kill("SIGKILL"), ms);
      const code = await exited;
      clearTimeout(timer);
      child.stdin.destroy();
      return code;
    },
  };
}

describe("jit on a terminal", { skip }, () => {
  let broker: DevBrokerProcess;
  before(async () => {
    broker = await startBroker();
    for (const u of ["alice", "bob", "carol"]) assert.equal((await broker.login(u)).code, 0, `login ${u}`);
  });
  after(async () => broker?.stop());
  // A live grant covering demo.sales would be the broker's answer to carol's next request (exit 0, nothing to wait
  // for): end hers, so each test's request is pending (or reuses the one still pending).
  const endCarolsGrants = async () => {
    const { grants } = JSON.parse((await runJit(["grants", "--json"], broker.env("carol"))).stdout) as { grants: Array<{ id: string }> };
    for (const g of grants) assert.equal((await runJit(["revoke", g.id], broker.env("carol"))).code, 0);
  };
  beforeEach(endCarolsGrants);

  test("Ctrl-C during jit request --wait ends the wait at once: exit 130, the request stays pending, and how to resume", async () => {
    const t = pty(["request", "demo.sales", "--reason", "tty test", "--wait"], broker.env("carol"), { cols: 80, rows: 24 });
    await t.until(/waiting for request (\d+) to be decided · \d+s/);
    const id = /waiting for request (\d+)/.exec(t.output())![1]!;
    const pressed = Date.now();
    t.write("\u0003");
    assert.equal(await t.exit(), 130);
    assert.ok(Date.now() - pressed < 3000, `took ${Date.now() - pressed} ms after Ctrl-C`);
    assert.match(t.output(), new RegExp(`request ${id} stays pending\\. Resume with: jit request wait ${id}`));
    assert.doesNotMatch(t.output(), /error:/);
    const shown = await runJit(["request", "show", id, "--json"], broker.env("carol"));
    assert.equal((JSON.parse(shown.stdout) as { request: { state: string } }).request.state, "pending");
  });

  test("Ctrl-C during jit query --wait-approval also exits 130 with the request left pending", async () => {
    const t = pty(["query", "--wait-approval", "--reason", "tty", "SELECT city FROM demo.sales.customers LIMIT 1"], broker.env("carol"), { cols: 80, rows: 24 });
    await t.until(/waiting for request \d+ to be decided/);
    t.write("\u0003");
    assert.equal(await t.exit(), 130);
    assert.match(t.output(), /stays pending\. Resume with: jit request wait \d+/);
  });

  test("jit request wait ID waits, shows the time waited, and returns once an approver approves", async () => {
    const filed = await runJit(["request", "demo.sales", "--reason", "wait test", "--json"], broker.env("carol"));
    const id = (JSON.parse(filed.stdout) as { request: { id: string } }).request.id;
    const t = pty(["request", "wait", id], broker.env("carol"), { cols: 100, rows: 24 });
    await t.until(/waiting for request \d+ to be decided · \d+s/);
    assert.equal((await runJit(["approve", id, "--comment", "ok"], broker.env("bob"))).code, 0);
    assert.equal(await t.exit(), 0);
    assert.match(t.output(), new RegExp(`request ${id} approved by bob after \\d+s`));
  });

  test("a 0-column terminal gets no spinner and no busy loop: --timeout is honoured and the CPU stays idle", async () => {
    const t = pty(["request", "demo.sales", "--reason", "zero columns", "--wait", "--timeout", "3s"], broker.env("carol"), { cols: 0, rows: 0 });
    const started = Date.now();
    assert.equal(await t.exit(), 5);
    const took = Date.now() - started;
    assert.ok(took < 8000, `took ${took} ms for a 3s timeout`);
    assert.match(t.output(), /still pending after 3s/);
    assert.match(t.output(), /^pending: /m, "a pending request is a notice, not error:");
    // ora on a 0-column stream redrew its frame in a tight loop: megabytes of escape codes in 3 s.
    assert.ok(t.output().length < 2000, `${t.output().length} bytes of output`);
    assert.doesNotMatch(t.output(), /[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏]/);
  });

  test("SIGTERM during a wait on a 0-column terminal ends it", async () => {
    const t = pty(["request", "demo.sales", "--reason", "sigterm", "--wait"], broker.env("carol"), { cols: 0, rows: 0 });
    await t.until(/waiting for request/);
    t.signal("SIGTERM");
    assert.notEqual(await t.exit(5000), -1);
  });

  test("NO_COLOR: the spinner and every line come without colour codes; without it the terminal gets colour", async () => {
    const plain = pty(["request", "demo.sales", "--reason", "no colour", "--wait"], { ...broker.env("carol"), NO_COLOR: "1" }, { cols: 80, rows: 24 });
    await plain.until(/waiting for request \d+ to be decided · \d+s/);
    plain.write("\u0003");
    assert.equal(await plain.exit(), 130);
    assert.doesNotMatch(plain.output(), COLOUR);
    const env = { ...broker.env("carol") };
    delete env.NO_COLOR;
    const coloured = pty(["request", "demo.sales", "--reason", "colour", "--wait"], env, { cols: 80, rows: 24 });
    await coloured.until(/waiting for request \d+ to be decided · \d+s/);
    coloured.write("\u0003");
    assert.equal(await coloured.exit(), 130);
    assert.match(coloured.output(), COLOUR, "the control case: colour is on without NO_COLOR");
  });

  test("the approve picker: Esc and Ctrl-C leave quietly with exit 130", async () => {
    await runJit(["request", "demo.sales", "--reason", "picker", "--json"], broker.env("carol"));
    for (const key of ["\u001b", "\u0003"]) {
      const t = pty(["approve"], broker.env("bob"), { cols: 140, rows: 30 });
      await t.until(/Which request\?/);
      t.write(key);
      assert.equal(await t.exit(), 130, JSON.stringify(t.output()));
      assert.doesNotMatch(t.output(), /unexpected error|error:/);
    }
  });

  test("the approve picker: Enter, Approve, a comment, confirm; and Deny with a reason", async () => {
    const filed = await runJit(["request", "demo.sales", "--reason", "approve me", "--json"], broker.env("carol"));
    const id = (JSON.parse(filed.stdout) as { request: { id: string } }).request.id;
    // Put this request first: deny the others still pending from earlier tests.
    const pending = JSON.parse((await runJit(["requests", "--pending", "--json"], broker.env("bob"))).stdout) as { requests: Array<{ id: string }> };
    for (const r of pending.requests.filter((r) => r.id !== id)) await runJit(["deny", r.id, "--reason", "cleanup"], broker.env("bob"));

    const t = pty(["approve"], broker.env("bob"), { cols: 140, rows: 30 });
    await t.until(/Which request\?/);
    t.write("\r");
    await t.until(/Approve\s/);
    t.write("\r");
    await t.until(/Comment \(optional/);
    t.write("fine by me\r");
    await t.until(new RegExp(`Approve request ${id}\\?`));
    t.write("\r");
    assert.equal(await t.exit(), 0, JSON.stringify(t.output()));
    assert.match(t.output(), new RegExp(`Request ${id} approved: grant \\d+ for carol`));
    const shown = JSON.parse((await runJit(["request", "show", id, "--json"], broker.env("carol"))).stdout) as { request: { approvals: Array<{ comment: string }> } };
    assert.equal(shown.request.approvals[0]!.comment, "fine by me");

    await endCarolsGrants();
    const other = JSON.parse((await runJit(["request", "demo.sales", "--reason", "deny me", "--json"], broker.env("carol"))).stdout) as { request: { id: string } };
    const d = pty(["approve"], broker.env("bob"), { cols: 140, rows: 30 });
    await d.until(/Which request\?/);
    d.write("\r");
    await d.until(/Deny/);
    d.write("\u001b[B"); // arrow down to Deny
    await new Promise((r) => setTimeout(r, 200));
    d.write("\r");
    await d.until(/Reason \(shown to the requester\)/);
    d.write("\r"); // empty: refused, a reason is required
    await d.until(/a reason is required to deny/);
    d.write("use the aggregated dataset\r");
    await d.until(/Deny request \d+\?/);
    d.write("\r");
    assert.equal(await d.exit(), 0, JSON.stringify(d.output()));
    assert.match(d.output(), new RegExp(`Request ${other.request.id} by carol denied: use the aggregated dataset`));
  });

  for (const cols of [80, 140]) {
    test(`tables fit a ${cols}-column terminal: query, requests, audit; a long query shows a screenful and says so`, async () => {
      const env = broker.env("alice");
      await runJit(["request", "demo.sales", "--reason", "tables"], env);
      const wide = pty(["query", "SELECT * FROM demo.sales.customers"], env, { cols, rows: 30 });
      assert.equal(await wide.exit(), 0, wide.output());
      const screen = wide.output().replace(/\u001b\[[0-9;?]*[A-Za-z]/g, "").split(/\r?\n/);
      for (const line of screen) assert.ok([...line].length <= cols, `${[...line].length} > ${cols}: ${line}`);
      assert.match(wide.output(), /showing 24 of \d[\d,]* rows \(use --max-rows or --format\)/);
      assert.match(wide.output(), /bytes not shown \(it reads a masked column\)/, "SELECT * reads masked columns: no byte figure");
      assert.match(wide.output(), /─{4,}/, "a rule under the header");
      assert.doesNotMatch(wide.output(), /[┌┬┼├│]/, "no box borders");
      for (const args of [["requests"], ["audit", "list", "--mine"]]) {
        const t = pty(args, { ...env, JIT_PAGER: "cat" }, { cols, rows: 30 });
        assert.equal(await t.exit(), 0, t.output());
        for (const line of t.output().replace(/\u001b\[[0-9;?]*[A-Za-z]/g, "").split(/\r?\n/)) assert.ok([...line].length <= cols, `jit ${args.join(" ")}: ${line}`);
      }
    });
  }

  test("long output goes through JIT_PAGER on a terminal, never through a pipe", async () => {
    const env = { ...broker.env("alice"), JIT_PAGER: "sed 's/^/PAGED /'" };
    const t = pty(["query", "--max-rows", "60", "SELECT order_id FROM demo.sales.orders"], env, { cols: 80, rows: 20 });
    assert.equal(await t.exit(), 0);
    assert.match(t.output(), /PAGED +100001/);
    const piped = await runJit(["query", "--max-rows", "60", "--format", "table", "SELECT order_id FROM demo.sales.orders"], env);
    assert.equal(piped.code, 0);
    assert.doesNotMatch(piped.stdout, /PAGED/);
  });
});
