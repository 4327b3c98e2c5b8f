/** `jit mcp config --client X --merge FILE`: jit joins an existing client config without dropping the servers already there. */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { clientSnippet, hasComments, jitLaunch, mergeConfig } from "../../src/mcp/config-snippet.ts";
import { JIT_BIN, runJit, userEnv } from "../e2e/harness.ts";

const dir = mkdtempSync(join(tmpdir(), "jit-merge-"));
after(() => rmSync(dir, { recursive: true, force: true }));
const env = userEnv(join(dir, "home"), "http://127.0.0.1:8787");
const launch = jitLaunch({ nodePath: "/usr/bin/node", binPath: "/opt/jit/bin/jit.js" });

test("mergeConfig keeps other servers and keys, replaces only jit's own entry, and refuses what it would damage", () => {
  const existing = JSON.stringify({ inputs: [{ id: "token", type: "promptString" }], servers: { github: { type: "http", url: "https://example.com/mcp" } } });
  const first = mergeConfig(existing, clientSnippet("vscode", launch));
  const doc = JSON.parse(first.text) as { inputs: unknown[]; servers: Record<string, { type: string; args?: string[] }> };
  assert.equal(first.action, "added");
  assert.deepEqual(first.kept, ["github"]);
  assert.deepEqual(Object.keys(doc.servers), ["github", "jit"]);
  assert.equal(doc.servers.github!.type, "http");
  assert.deepEqual(doc.inputs, [{ id: "token", type: "promptString" }]);
  assert.deepEqual(doc.servers.jit!.args, ["/opt/jit/bin/jit.js", "mcp"]);
  const again = mergeConfig(first.text, clientSnippet("vscode", launch));
  assert.equal(again.action, "updated");
  assert.equal(again.text, first.text, "merging twice changes nothing");
  assert.deepEqual(Object.keys((JSON.parse(mergeConfig(undefined, clientSnippet("cursor", launch)).text) as { mcpServers: object }).mcpServers), ["jit"]);
  assert.throws(() => mergeConfig("{ // mine\n}", clientSnippet("vscode", launch)), /comments/);
  assert.throws(() => mergeConfig("[1]", clientSnippet("vscode", launch)), /not a JSON object/);
  assert.throws(() => mergeConfig('{"servers": []}', clientSnippet("vscode", launch)), /"servers" is not an object/);
  assert.equal(hasComments('{"url": "https://x//y", "a": "/*"}'), false, "slashes inside strings are not comments");
});

test("through the binary: the file is rewritten with jit added, its mode kept; a broken file is exit 2 and left alone", async () => {
  const file = join(dir, "mcp.json");
  writeFileSync(file, JSON.stringify({ servers: { github: { type: "http", url: "https://example.com/mcp" } } }), { mode: 0o600 });
  const r = await runJit(["mcp", "config", "--client", "vscode", "--merge", file], env);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, "");
  assert.match(r.stderr, /Added jit to .*mcp\.json \(kept github\)/);
  const doc = JSON.parse(readFileSync(file, "utf8")) as { servers: Record<string, { command?: string; args?: string[]; url?: string }> };
  assert.equal(doc.servers.github!.url, "https://example.com/mcp");
  assert.deepEqual(doc.servers.jit!.args, [JIT_BIN, "mcp", "--broker", "http://127.0.0.1:8787"]);
  assert.equal(statSync(file).mode & 0o777, 0o600);

  const json = await runJit(["mcp", "config", "--client", "vscode", "--merge", file, "--json"], env);
  assert.deepEqual(JSON.parse(json.stdout), { file, server: "jit", action: "updated", kept: ["github"] });

  const created = join(dir, "new", ".vscode", "mcp.json");
  assert.equal((await runJit(["mcp", "config", "--client", "vscode", "--merge", created], env)).code, 0);
  assert.deepEqual(Object.keys((JSON.parse(readFileSync(created, "utf8")) as { servers: object }).servers), ["jit"]);

  const broken = join(dir, "broken.json");
  writeFileSync(broken, "{ \"servers\": { // a comment\n } }");
  const bad = await runJit(["mcp", "config", "--client", "vscode", "--merge", broken], env);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /cannot merge into .*broken\.json: it has comments/);
  assert.equal(readFileSync(broken, "utf8"), "{ \"servers\": { // a comment\n } }", "left as it was");
});

test("claude-code: stdout is the claude mcp add command alone (pipe it to a shell), name first; the JSON form is on stderr", async () => {
  const r = await runJit(["mcp", "config", "--client", "claude-code"], { ...env, JIT_BROKER: "" });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim().split("\n").length, 1, r.stdout);
  assert.match(r.stdout, /^claude mcp add jit --env JIT_CREDENTIAL_STORE=file .* -- \S+ \S+bin\/jit\.js mcp\n$/);
  assert.match(r.stderr, /"mcpServers"/);
});
