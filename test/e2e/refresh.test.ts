/** Silent refresh through the binary: an expiring session is refreshed once, even by several jit processes at the same moment. */
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { runJit, startBroker } from "./harness.ts";

test("parallel jit processes with an expiring session all succeed, and the session survives", { timeout: 60_000 }, async () => {
  const broker = await startBroker();
  try {
    assert.equal((await broker.login("alice")).code, 0);
    const env = broker.env("alice");
    const file = join(env.XDG_STATE_HOME!, "jit", "credentials.json");
    const stored = JSON.parse(readFileSync(file, "utf8")) as { version: 1; entries: Record<string, string> };
    const session = JSON.parse(stored.entries[broker.url]!) as { expires_at: number; id_token: string; refresh_token: string };
    // Make the id_token look about to expire: every process below must refresh before calling the broker.
    stored.entries[broker.url] = JSON.stringify({ ...session, expires_at: Math.floor(Date.now() / 1000) + 10 });
    writeFileSync(file, JSON.stringify(stored), { mode: 0o600 });

    const runs = await Promise.all([1, 2, 3, 4].map(() => runJit(["whoami", "--json"], env)));
    for (const r of runs) assert.equal(r.code, 0, r.stderr);

    const after = JSON.parse((JSON.parse(readFileSync(file, "utf8")) as { entries: Record<string, string> }).entries[broker.url]!) as { expires_at: number; refresh_token: string };
    assert.ok(after.expires_at > Date.now() / 1000 + 600, "the stored session was refreshed");
    assert.notEqual(after.refresh_token, session.refresh_token, "the refresh token rotated");
    const later = await runJit(["whoami"], env);
    assert.equal(later.code, 0, `the session must survive the parallel refresh: ${later.stderr}`);
  } finally {
    await broker.stop();
  }
});
