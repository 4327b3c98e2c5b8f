/** `jit demo`: the whole story in one command, on the embedded default, through the broker's real API and the real device flow. */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startDevBroker } from "../broker/dev.ts";
import { devSignIn } from "./sign-in.ts";
import { JitError } from "../errors.ts";
import { BrokerClient } from "../cli/client.ts";
import type { CliContext } from "../cli/context.ts";
import { printResult, type QueryResult } from "../cli/commands/query.ts";
import { summarise, type AuditView } from "../cli/commands/audit.ts";
import { toSimpleTable } from "../cli/output.ts";
import type { RequestView } from "../cli/commands/wait.ts";

/** Signs a demo user in through the device flow and returns a broker client acting as them. */
async function signIn(brokerUrl: string, issuer: string, username: string, version: string): Promise<BrokerClient> {
  const tokens = await devSignIn(brokerUrl, issuer, username);
  return new BrokerClient({ baseUrl: brokerUrl, client: { kind: "cli", name: "jit-demo", version }, token: async () => tokens.idToken });
}

/** Runs the demo story and prints each step as the command a person would type. */
export async function demoCommand(ctx: CliContext, opts: { dataDir?: string }): Promise<void> {
  const { io } = ctx;
  const c = io.color;
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), "jit-demo-"));
  const step = (who: string, cmd: string) => io.out(`\n${c.cyan(`${who}$`)} ${c.bold(cmd)}`);
  const say = (line: string) => io.out(`  ${line}`);
  const expectRefusal = async (p: Promise<unknown>, code: string) => {
    try {
      await p;
    } catch (err) {
      if (err instanceof JitError && err.code === code) {
        say(`${c.red("✘")} ${err.message}`);
        if (err.hint) say(c.dim(`hint: ${err.hint}`));
        return;
      }
      throw err;
    }
    throw new JitError("internal", `the demo expected a "${code}" refusal here and got none`);
  };

  const broker = await startDevBroker({ port: 0, dataDir, version: ctx.version, pollIntervalSeconds: 1 });
  try {
    io.out(c.bold(`jit demo: broker (dev mode) on ${broker.url}, DuckDB demo warehouse, demo policy, SQLite store in ${dataDir}`));
    io.out("Signing in alice (analysts), carol (contractors), bob (data-owners) and dave (auditors) through the OIDC device flow...");
    const [alice, carol, bob, dave] = await Promise.all(
      ["alice", "carol", "bob", "dave"].map((u) => signIn(broker.url, broker.issuer, u, ctx.version)),
    );

    step("alice", 'jit request demo.sales --reason "weekly report"');
    const a = await alice!.post<{ request: RequestView }>("/v1/requests", { datasets: ["demo.sales"], reason: "weekly report" });
    say(`${c.green("✔")} grant ${a.request.grant_id} on demo.sales, auto-approved by policy for ${a.request.duration_seconds / 3600}h`);

    const sql = "SELECT full_name, ssn, card_number, email, city FROM demo.sales.customers LIMIT 5";
    step("alice", `jit query "${sql}"`);
    printResult(ctx, await alice!.post<QueryResult>("/v1/query", { sql }), "table");

    step("alice", `jit query "SELECT full_name FROM demo.sales.customers WHERE ssn LIKE '123%'"`);
    await expectRefusal(alice!.post("/v1/query", { sql: "SELECT full_name FROM demo.sales.customers WHERE ssn LIKE '123%'" }), "denied");

    step("alice", 'jit query "DELETE FROM demo.sales.orders WHERE true"');
    await expectRefusal(alice!.post("/v1/query", { sql: "DELETE FROM demo.sales.orders WHERE true" }), "denied");

    const revenue = "SELECT c.city, COUNT(*) AS orders, SUM(o.amount) AS revenue FROM demo.sales.orders o JOIN demo.sales.customers c ON c.id = o.customer_id WHERE o.status = 'completed' GROUP BY c.city ORDER BY revenue DESC LIMIT 5";
    step("alice", `jit query "${revenue}"`);
    printResult(ctx, await alice!.post<QueryResult>("/v1/query", { sql: revenue }), "table");

    step("carol", 'jit query "SELECT city, COUNT(*) AS n FROM demo.sales.customers GROUP BY city"');
    await expectRefusal(carol!.post("/v1/query", { sql: "SELECT city, COUNT(*) AS n FROM demo.sales.customers GROUP BY city" }), "denied");

    step("carol", 'jit request demo.sales --reason "invoice audit" --duration 30m');
    const pending = await carol!.post<{ request: RequestView }>("/v1/requests", { datasets: ["demo.sales"], reason: "invoice audit", duration_seconds: 1800 });
    say(`${c.yellow("…")} request ${pending.request.id} is pending: it needs ${pending.request.min_approvals} approval from ${pending.request.approver_groups.join(", ")}`);

    step("carol", `jit approve ${pending.request.id}`);
    await expectRefusal(carol!.post(`/v1/requests/${pending.request.id}/approve`, {}), "denied");

    step("bob", `jit approve ${pending.request.id} --comment "ok for the audit"`);
    const approved = await bob!.post<{ request: RequestView }>(`/v1/requests/${pending.request.id}/approve`, { comment: "ok for the audit" });
    say(`${c.green("✔")} request ${approved.request.id} approved: grant ${approved.request.grant_id} for carol, 30m`);

    step("carol", 'jit query "SELECT city, COUNT(*) AS n FROM demo.sales.customers GROUP BY city ORDER BY n DESC LIMIT 3"');
    printResult(ctx, await carol!.post<QueryResult>("/v1/query", { sql: "SELECT city, COUNT(*) AS n FROM demo.sales.customers GROUP BY city ORDER BY n DESC LIMIT 3" }), "table");

    const hrSql = "SELECT full_name, department, ssn FROM demo.hr.employees ORDER BY employee_id LIMIT 3";
    step("alice", `jit query "${hrSql}"`);
    await expectRefusal(alice!.post("/v1/query", { sql: hrSql }), "denied");

    step("alice", `jit query --wait-approval --reason "check the HR export" "${hrSql}"`);
    const single = await alice!.post<{ request: RequestView }>("/v1/requests", { sql: hrSql, reason: "check the HR export" });
    say(`${c.yellow("…")} request ${single.request.id} carries this exact statement; waiting for a data owner`);

    step("bob", "jit requests --pending");
    const { requests: pendingList } = await bob!.get<{ requests: Array<RequestView & { statement?: { tables: string[]; masked_columns: Array<{ name: string; mask: string }> } }> }>("/v1/requests?pending=1");
    for (const r of pendingList.filter((x) => x.sql)) {
      say(`#${r.id} ${r.requester} wants to run once: ${c.bold(r.sql!)}`);
      if (r.statement) say(`reads ${r.statement.tables.join(", ")}; masked: ${r.statement.masked_columns.map((m) => `${m.name} (${m.mask})`).join(", ")}`);
    }

    step("bob", `jit approve ${single.request.id}`);
    await bob!.post(`/v1/requests/${single.request.id}/approve`, {});
    say(`${c.green("✔")} approved: alice may run that statement once in the next 15 minutes`);

    step("alice", "(the --wait-approval above now runs the statement)");
    printResult(ctx, await alice!.post<QueryResult>("/v1/query", { sql: hrSql }), "table");

    step("alice", `jit query "${hrSql}"   # once more`);
    await expectRefusal(alice!.post("/v1/query", { sql: hrSql }), "denied");

    step("dave", "jit audit list");
    const { records } = await dave!.get<{ records: AuditView[] }>("/v1/audit?limit=200");
    const shown = records.filter((r) => r.action !== "metadata" && r.action !== "access" && r.action !== "query.result");
    io.out(toSimpleTable(["id", "actor", "action", "outcome", "what"], shown.map((r) => [r.id, r.actor, r.action, r.outcome, summarise(r)])));

    step("dave", "jit audit verify");
    const v = await dave!.get<{ ok: boolean; checked: number }>("/v1/audit/verify");
    if (!v.ok) throw new JitError("internal", "the demo's audit chain does not verify");
    say(`${c.green("✔")} audit chain intact: ${v.checked} records, each hash-linked to the one before`);

    io.out(`\nThat was the whole story. Try it by hand: ${c.bold("jit broker dev")} in one terminal, ${c.bold("jit login --broker http://127.0.0.1:8787")} in another.`);
  } finally {
    await broker.close();
    if (!opts.dataDir) rmSync(dataDir, { recursive: true, force: true });
  }
}
