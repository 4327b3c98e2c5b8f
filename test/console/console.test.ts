/**
 * The web console end to end in real chromium against `jit broker dev`: sign-in through the dev IdP's pages, the
 * inbox and a decision, live updates, forged posts, single-statement review, the audit pages, policy, deep links,
 * accessibility (axe-core) and page weight. Screenshots for the README land in docs/console/.
 */
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, test } from "node:test";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { type DevBrokerProcess, type RunResult, startBroker } from "../e2e/harness.ts";
import { slackPayload } from "../../src/notify/webhook.ts";
import { browserSkip, launchChromium, runCli, seriousViolations, signInOnIdp } from "./browser.ts";

// Screenshots are always taken (narrow layouts must not scroll sideways); they refresh the README's copies only when
// asked, so an ordinary test run leaves the work tree alone: JIT_CONSOLE_SCREENSHOTS=1 node --test test/console/
const KEEP_SHOTS = process.env.JIT_CONSOLE_SCREENSHOTS === "1";
let SHOTS = "";
const skip = browserSkip();

describe("web console in a real browser", { skip, timeout: 240_000 }, () => {
  let broker: DevBrokerProcess;
  let browser: Browser;
  const contexts = new Map<string, BrowserContext>();
  const cspErrors: string[] = [];
  const jit = (user: string, args: string[], timeoutMs?: number): Promise<RunResult> => runCli(args, broker.env(user), timeoutMs);
  const json = <T>(r: RunResult): T => {
    try {
      return JSON.parse(r.stdout) as T;
    } catch {
      throw new Error(`stdout is not JSON (exit ${r.code}): ${r.stdout}\nstderr: ${r.stderr}`);
    }
  };
  const file = async (user: string, dataset: string, reason: string): Promise<string> => {
    // A live grant on the dataset would cover the ask (the broker answers with it, exit 0): end it, so this is filed.
    for (const g of json<{ grants: { id: string }[] }>(await jit(user, ["grants", "--json"])).grants) assert.equal((await jit(user, ["revoke", g.id])).code, 0);
    const r = await jit(user, ["request", dataset, "--reason", reason, "--duration", "30m", "--json"]);
    // Pending is exit 5 (SPEC), with the request's id in the error object.
    assert.equal(r.code, 5, r.stderr);
    return (JSON.parse(r.stderr) as { error: { code: string; request_id: string } }).error.request_id;
  };

  /** A page in the user's own browser context (cookies are per context, like separate browsers). */
  async function pageOf(user: string, width = 1280): Promise<Page> {
    let ctx = contexts.get(user);
    if (!ctx) {
      ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
      contexts.set(user, ctx);
    }
    const page = await ctx.newPage();
    await page.setViewportSize({ width, height: width < 500 ? 812 : 900 });
    page.on("console", (m) => { if (/Content Security Policy/i.test(m.text())) cspErrors.push(`${user}: ${m.text()}`); });
    return page;
  }

  /** Opens a console URL, signing in through the IdP first when the person has no session yet. */
  async function open(page: Page, user: string, path: string): Promise<void> {
    await page.goto(`${broker.url}${path}`);
    if (page.url().includes("/oidc/")) await signInOnIdp(page, user);
    assert.equal(new URL(page.url()).pathname, path.split("?")[0], `${user} should land on ${path}`);
  }

  async function axeClean(page: Page, what: string): Promise<void> {
    const v = await seriousViolations(page);
    assert.deepEqual(v.map((x) => `${x.id} (${x.impact}): ${x.help} at ${JSON.stringify(x.nodes.map((n) => n.target))}`), [], `axe on ${what}`);
  }

  async function shoot(page: Page, name: string): Promise<void> {
    for (const width of [1280, 375]) {
      await page.setViewportSize({ width, height: width < 500 ? 812 : 900 });
      // Narrow screens must not scroll sideways: everything wraps or scrolls inside its own box.
      const overflow = await page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth");
      assert.ok(Number(overflow) <= 1, `${name} scrolls sideways by ${String(overflow)} px at ${width} px`);
      await page.screenshot({ path: `${SHOTS}${name}-${width}.png`, fullPage: true });
    }
    await page.setViewportSize({ width: 1280, height: 900 });
  }

  before(async () => {
    SHOTS = KEEP_SHOTS ? fileURLToPath(new URL("../../docs/console/", import.meta.url)) : `${mkdtempSync(join(tmpdir(), "jit-console-shots-"))}/`;
    mkdirSync(SHOTS, { recursive: true });
    [broker, browser] = await Promise.all([startBroker(), launchChromium()]);
    for (const u of ["carol", "alice"]) {
      const r = await broker.login(u);
      assert.equal(r.code, 0, r.stderr);
    }
  });

  after(async () => {
    await browser?.close();
    await broker?.stop();
    if (!KEEP_SHOTS && SHOTS) rmSync(SHOTS, { recursive: true, force: true });
  });

  let salesId = "";
  let bobInbox: Page;

  test("the webhook's deep link leads bob, after signing in on the IdP's pages, to carol's request with its reason", async () => {
    salesId = await file("carol", "demo.sales", "quarterly churn review for the board");
    const payload = slackPayload({
      kind: "pending", brokerUrl: broker.url,
      request: { id: salesId, requester: "carol", datasets: ["demo.sales"], reason: "x", duration_seconds: 1800, approver_groups: ["data-owners"] },
    });
    const button = payload.blocks.find((b) => (b as { type: string }).type === "actions") as { elements: { url: string }[] };
    const link = button.elements[0]!.url;
    assert.equal(link, `${broker.url}/console/requests/${salesId}`);

    const page = await pageOf("bob");
    await page.goto(link);
    assert.match(page.url(), /\/oidc\/interaction\//, "an unsigned person is sent to the IdP first");
    await signInOnIdp(page, "bob");
    assert.equal(new URL(page.url()).pathname, `/console/requests/${salesId}`);
    // The page as a browser with an empty cache fetches it (same session), with its stylesheet and script.
    const cold = await browser.newContext({ storageState: await contexts.get("bob")!.storageState() });
    const coldPage = await cold.newPage();
    await coldPage.goto(link);
    const transferred = Number(await coldPage.evaluate("[...performance.getEntriesByType('navigation'), ...performance.getEntriesByType('resource')].reduce((s, e) => s + e.transferSize, 0)"));
    await cold.close();
    assert.ok(transferred > 5000 && transferred < 200_000, `the first page weighs ${transferred} bytes`);
    process.stderr.write(`console: a request's page with its stylesheet and script, cold cache: ${transferred} bytes transferred\n`);
    const card = page.locator("article");
    assert.match(await card.innerText(), /quarterly churn review for the board/);
    assert.match(await card.innerText(), /carol/);
    assert.ok(await page.locator(`button:has-text("Approve request ${salesId}")`).isVisible());

    // The session cookie: HttpOnly, SameSite=Strict; not Secure only because this is plain http on loopback.
    const cookies = await contexts.get("bob")!.cookies();
    const session = cookies.find((c) => c.name === "jit_console");
    assert.ok(session, `a session cookie (${cookies.map((c) => c.name).join(", ")})`);
    assert.equal(session.httpOnly, true);
    assert.equal(session.sameSite, "Strict");
    await axeClean(page, "a request's page");
    await page.close();
  });

  test("bob approves in one tab; his inbox in another tab drops it without a reload; carol's jit query then works", async () => {
    bobInbox = await pageOf("bob");
    const loads: number[] = [];
    bobInbox.on("load", () => loads.push(Date.now()));
    await open(bobInbox, "bob", "/console/");
    assert.match(await bobInbox.locator("[data-live]").innerText(), /quarterly churn review for the board/);
    await axeClean(bobInbox, "the inbox");

    const decide = await pageOf("bob");
    await open(decide, "bob", `/console/requests/${salesId}`);
    // Keyboard only: type the comment, Tab to the approve button, press Enter.
    await decide.focus(`#comment-${salesId}`);
    await decide.keyboard.type("ok for the board <b>deck</b>");
    await decide.keyboard.press("Tab");
    assert.equal(await decide.evaluate("document.activeElement.textContent"), `Approve request ${salesId}`);
    const clicked = Date.now();
    await Promise.all([decide.waitForURL(/done=approved/), decide.keyboard.press("Enter")]);
    assert.match(await decide.locator("[role=status]").first().innerText(), /You approved this request/);
    // The comment is shown as text, never as markup.
    assert.match(await decide.locator("article").innerText(), /ok for the board <b>deck<\/b>/);

    await bobInbox.locator("[data-live] article", { hasText: "quarterly churn review" }).waitFor({ state: "detached", timeout: 10_000 });
    const latency = Date.now() - clicked;
    process.stderr.write(`console: a decision appeared in another open inbox ${latency} ms after the click (polling every 2 s)\n`);
    assert.ok(latency < 5_000, `live update took ${latency} ms`);
    assert.equal(loads.length, 1, "the inbox updated without reloading");
    await decide.close();

    const q = await jit("carol", ["query", "SELECT city FROM demo.sales.customers LIMIT 2", "--json"]);
    assert.equal(q.code, 0, q.stderr);
    assert.equal(json<{ row_count: number }>(q).row_count, 2);
  });

  let otherId = "";

  test("alice cannot see bob's inbox, and her forged posts (no CSRF token, another Origin) are refused and audited", async () => {
    otherId = await file("carol", "demo.sales", "second look at churn");
    const page = await pageOf("alice");
    await open(page, "alice", "/console/");
    assert.match(await page.locator("[data-live]").innerText(), /Nothing is waiting for you/);
    assert.ok(!(await page.content()).includes("second look at churn"));

    const res = await page.goto(`${broker.url}/console/requests/${otherId}`);
    assert.equal(res?.status(), 404);
    assert.match(await page.locator("main").innerText(), new RegExp(`There is no request ${otherId} that you may see`));
    assert.equal(await page.locator("form[action$=approve]").count(), 0);

    // A CSRF token of her own session, taken from a console page.
    await page.goto(`${broker.url}/console/mine`);
    const csrf = await page.locator("input[name=csrf]").first().getAttribute("value");
    assert.ok(csrf);
    const api = contexts.get("alice")!.request;
    const noToken = await api.post(`${broker.url}/console/requests/${otherId}/approve`, { form: { comment: "sure" }, headers: { origin: broker.url } });
    assert.equal(noToken.status(), 403);
    const otherOrigin = await api.post(`${broker.url}/console/requests/${otherId}/approve`, { form: { csrf, comment: "sure" }, headers: { origin: "http://evil.example" } });
    assert.equal(otherOrigin.status(), 403);
    assert.match(await otherOrigin.text(), /did not come from a console page/);
    // With a genuine token and origin the domain rule still refuses her: she is no approver of demo.sales.
    // (and the answer still says nothing about a request she may not see).
    const genuine = await api.post(`${broker.url}/console/requests/${otherId}/approve`, { form: { csrf, comment: "sure" }, headers: { origin: broker.url } });
    assert.equal(genuine.status(), 404);

    const audit = await jit("alice", ["audit", "list", "--mine", "--json", "--limit", "1000"]);
    const mine = json<{ records: { action: string; outcome: string; details: Record<string, unknown> }[] }>(audit).records;
    const forged = mine.filter((r) => r.action === "console" && r.outcome === "denied" && String(r.details.why).startsWith("forged request refused"));
    // `jit audit list --json` is newest first: the CSRF refusal came first, so it is listed last.
    assert.deepEqual(forged.map((r) => r.details.why).reverse(), [
      "forged request refused: the form carries no valid CSRF token",
      "forged request refused: the form was posted from another origin",
    ]);
    assert.ok(mine.some((r) => r.action === "approve" && r.outcome === "denied" && r.details.request_id === otherId));
    const still = await jit("carol", ["requests", "--mine", "--json"]);
    assert.equal(json<{ requests: { id: string; state: string }[] }>(still).requests.find((r) => r.id === otherId)?.state, "pending");
    await page.close();
  });

  test("a single-statement request shows bob the SQL highlighted, the tables, masked columns and bytes; alice sees why she cannot decide it", async () => {
    const sql = "SELECT full_name, ssn, salary FROM demo.hr.employees WHERE department = 'People'";
    const waiting = jit("alice", ["query", "--wait-approval", "--reason", "pay-equity review", "--timeout", "60s", sql, "--json"], 90_000);
    await bobInbox.locator("[data-live] article", { hasText: "pay-equity review" }).waitFor({ timeout: 15_000 });
    const card = bobInbox.locator("article", { hasText: "pay-equity review" });
    const text = await card.innerText();
    assert.match(text, /SELECT full_name, ssn, salary FROM demo\.hr\.employees WHERE department = 'People'/);
    assert.equal(await card.locator("pre.sql .k").first().innerText(), "SELECT");
    assert.match(text, /Tables read\s+demo\.hr\.employees/);
    assert.match(text, /ssn \(last4\)/);
    assert.match(text, /salary \(null\)/);
    assert.match(text, /Bytes estimate\s+not shown \(the statement reads a masked column\)/, "its byte figure would count the masked values");
    await axeClean(bobInbox, "the inbox with a statement");
    await shoot(bobInbox, "inbox");
    const id = (await card.getAttribute("aria-labelledby"))!.replace("req-", "");

    const alice = await pageOf("alice");
    await open(alice, "alice", `/console/requests/${id}`);
    assert.match(await alice.locator("[data-why]").innerText(), /You cannot decide this request: nobody approves their own request/);
    assert.equal(await alice.locator("button.primary:has-text('Approve')").count(), 0);
    await shoot(alice, "request");

    const decide = await pageOf("bob");
    await open(decide, "bob", `/console/requests/${id}`);
    await decide.click(`button:has-text("Approve request ${id}")`);
    await decide.waitForURL(/done=approved/);
    const done = await waiting;
    assert.equal(done.code, 0, done.stderr);
    const rows = json<{ rows: Record<string, unknown>[] }>(done);
    assert.ok(rows.rows.length > 0);
    assert.match(String(rows.rows[0]!.ssn), /^X+\d{4}$/);
    assert.equal(rows.rows[0]!.salary, null);

    await open(alice, "alice", "/console/mine");
    assert.match(await alice.locator("main").innerText(), /pay-equity review/);
    await axeClean(alice, "my requests and grants");
    await shoot(alice, "mine");
    await decide.close();
    await alice.close();
  });

  test("dave filters the audit log, opens a query record, replays what alice received, and verifies the chain with an anchor", async () => {
    const page = await pageOf("dave");
    await open(page, "dave", "/console/audit");
    await page.fill("#f-actor", "alice");
    await page.selectOption("#f-outcome", "denied");
    await page.selectOption("#f-action", "console");
    await Promise.all([page.waitForURL(/user=alice/), page.click("button:has-text('Filter')")]);
    const table = await page.locator("tbody").innerText();
    assert.match(table, /forged request refused: the form carries no valid CSRF token/);
    assert.ok(!/\bcarol\b/.test(table), "only alice's records");
    await axeClean(page, "the audit list");
    await shoot(page, "audit");

    await page.selectOption("#f-outcome", "ok");
    await page.selectOption("#f-action", "query.result");
    await Promise.all([page.waitForURL(/action=query.result/), page.click("button:has-text('Filter')")]);
    await Promise.all([page.waitForURL(/\/console\/audit\/\d+$/), page.locator("tbody a").first().click()]);
    const detail = await page.locator("main").innerText();
    assert.match(detail, /Actor\s+alice/);
    assert.match(detail, /Job id/);
    await axeClean(page, "an audit record");
    await Promise.all([page.waitForURL(/\/replay$/), page.click("text=Replay what the caller received")]);
    const replay = await page.locator("table").innerText();
    assert.match(replay, /ssn/);
    assert.match(replay, /X+\d{4}/, "masked as alice received it");
    assert.ok(!/\d{3}-\d{2}-\d{4}/.test(replay), "no clear SSN");
    await axeClean(page, "a replay");
    await shoot(page, "replay");

    await open(page, "dave", "/console/audit/verify");
    await page.click("button:has-text('Verify')");
    await page.waitForSelector("[data-verify]");
    assert.equal(await page.getAttribute("[data-verify]", "data-verify"), "ok");
    // Every chain's head, CHAIN:SEQ:HASH, ready to paste back as anchors.
    const heads = (await page.locator("[data-heads]").innerText()).trim();
    assert.match(heads, /^\d+:\d+:[0-9a-f]{64}(,\d+:\d+:[0-9a-f]{64})*$/);
    await page.fill("#anchor", heads);
    await Promise.all([page.waitForURL(/anchor=/), page.click("button:has-text('Verify')")]);
    assert.equal(await page.getAttribute("[data-verify]", "data-verify"), "ok");
    assert.match(await page.locator("[data-verify]").innerText(), /every anchor is still there, unchanged/);
    await axeClean(page, "verify");
    await shoot(page, "verify");
    const [chain, seq] = heads.split(",")[0]!.split(":");
    await page.fill("#anchor", `${chain}:${seq}:${"0".repeat(64)}`);
    await Promise.all([page.waitForURL(/anchor=/), page.click("button:has-text('Verify')")]);
    assert.equal(await page.getAttribute("[data-verify]", "data-verify"), "broken");
    assert.match(await page.locator("[data-verify]").innerText(), /history was rewritten/);
    await page.close();
  });

  test("everyone reads the policy and explains a statement; the audit pages are for auditors only", async () => {
    const page = await pageOf("alice");
    await open(page, "alice", "/console/policy");
    assert.match(await page.locator("main").innerText(), /demo\.hr\.employees\.salary/);
    await page.fill("#x-sql", "SELECT email FROM demo.sales.customers");
    await Promise.all([page.waitForURL(/\/console\/policy\/explain$/), page.click("button:has-text('Explain')")]);
    assert.equal(await page.getAttribute("[data-explain]", "data-explain"), "auto");
    assert.match(await page.locator("[data-explain]").innerText(), /email/);
    await axeClean(page, "policy");
    await shoot(page, "policy");

    const res = await page.goto(`${broker.url}/console/audit`);
    assert.equal(res?.status(), 403);
    assert.match(await page.locator("main").innerText(), /Only auditors and admins/);
    await page.close();
  });

  test("pages carry a strict CSP with no inline code, and the browser reported no violation", async () => {
    const res = await fetch(`${broker.url}/console/`, { redirect: "manual" });
    const csp = res.headers.get("content-security-policy") ?? "";
    assert.match(csp, /script-src 'self'/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.ok(!csp.includes("unsafe-inline"));
    assert.deepEqual(cspErrors, []);
  });
});
