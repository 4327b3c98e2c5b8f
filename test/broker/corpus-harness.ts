/**
 * Shared setup for the end-to-end corpora: the real dev broker in-process on the real demo data, alice
 * (analysts) with a demo.sales grant and bob (data-owners) with demo.hr, and the demo CSVs parsed for checks.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { devSignIn } from "../../src/demo/sign-in.ts";
import { type DevBroker, startDevBroker } from "../../src/broker/dev.ts";
import { demo, parseCsv } from "../fixtures/demo-data.ts";

export { demo, parseCsv };


const reverse = (s: string) => Array.from(s).reverse().join("");
const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64").replace(/=+$/, "");
const hex = (s: string) => Buffer.from(s, "utf8").toString("hex");

/** A value and its reversible transforms: reversed, base64 (unpadded), hex in both cases; each also of its digits. */
export function transformsOf(value: string): string[] {
  const digits = value.replace(/\D/g, "");
  const forms = [value, reverse(value), b64(value), hex(value), hex(value).toUpperCase()];
  if (digits.length >= 7) forms.push(digits, reverse(digits), b64(digits), hex(digits), hex(digits).toUpperCase());
  return forms;
}

/**
 * Every string that must never appear in a response: raw SSNs, card numbers (as stored, digits only, grouped by
 * spaces and dashes), e-mails and their local parts (≥ 4 chars), phone numbers and their digits, plus transforms.
 */
export function forbiddenStrings(): Map<string, string> {
  const out = new Map<string, string>();
  const add = (what: string, values: string[]) => {
    for (const v of values) for (const t of transformsOf(v)) if (!out.has(t)) out.set(t, what);
  };
  for (const c of demo.customers) {
    const card = c.card_number!.replace(/\D/g, "");
    const groups = card.match(/.{4}/g)!;
    add(`customer ${c.id} ssn`, [c.ssn!]);
    add(`customer ${c.id} card`, [c.card_number!, card, groups.join(" "), groups.join("-")]);
    add(`customer ${c.id} phone`, [c.phone!, c.phone!.replace(/\D/g, "").replace(/^1(?=\d{10}$)/, "")]);
    add(`customer ${c.id} email`, emailForms(c.email!));
  }
  for (const e of demo.employees) {
    add(`employee ${e.employee_id} ssn`, [e.ssn!]);
    add(`employee ${e.employee_id} email`, emailForms(e.email!));
  }
  return out;
}

function emailForms(email: string): string[] {
  const local = email.split("@")[0]!;
  return local.length >= 4 ? [email, local] : [email];
}

/** An index of forbidden strings by their first four characters, so a response is scanned in one pass. */
export interface Forbidden {
  size: number;
  byPrefix: Map<string, Array<[string, string]>>;
}

/** Indexes a forbidden-string map (every string must be ≥ 4 characters). */
export function indexForbidden(strings: Map<string, string>): Forbidden {
  const byPrefix = new Map<string, Array<[string, string]>>();
  for (const [s, what] of strings) {
    if (s.length < 4) throw new Error(`forbidden string too short: ${s}`);
    const k = s.slice(0, 4);
    byPrefix.set(k, [...(byPrefix.get(k) ?? []), [s, what]]);
  }
  return { size: strings.size, byPrefix };
}

/** The forbidden strings found in `text` (except those the caller typed in `ignore`), as "what: string". */
export function leaksIn(text: string, forbidden: Forbidden, ignore = ""): string[] {
  const found = new Set<string>();
  for (let i = 0; i + 4 <= text.length; i++) {
    const candidates = forbidden.byPrefix.get(text.slice(i, i + 4));
    if (!candidates) continue;
    for (const [s, what] of candidates) if (text.startsWith(s, i) && !ignore.includes(s)) found.add(`${what}: ${s}`);
  }
  return [...found];
}

export interface QueryAnswer {
  status: number;
  /** The raw response text, exactly as the caller received it. */
  text: string;
  body: any;
}

export interface Person {
  username: string;
  token: string;
  query(sql: string, extra?: Record<string, unknown>): Promise<QueryAnswer>;
  post(path: string, body: unknown): Promise<QueryAnswer>;
}

export interface CorpusBroker {
  broker: DevBroker;
  alice: Person;
  bob: Person;
  close(): Promise<void>;
}

async function signIn(broker: DevBroker, username: string): Promise<Person> {
  const tokens = await devSignIn(broker.url, broker.issuer, username);
  const post = async (path: string, body: unknown): Promise<QueryAnswer> => {
    const res = await fetch(`${broker.url}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${tokens.idToken}` },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
    });
    const text = await res.text();
    return { status: res.status, text, body: JSON.parse(text) };
  };
  return { username, token: tokens.idToken, post, query: (sql, extra = {}) => post("/v1/query", { sql, ...extra }) };
}

/** Starts the dev broker on a free port with a temp data dir; alice holds demo.sales, bob demo.sales and demo.hr. */
export async function startCorpusBroker(): Promise<CorpusBroker> {
  const dir = mkdtempSync(join(tmpdir(), "jit-corpus-"));
  const broker = await startDevBroker({ port: 0, dataDir: dir });
  try {
    const [alice, bob] = await Promise.all([signIn(broker, "alice"), signIn(broker, "bob")]);
    for (const [p, datasets] of [[alice, ["demo.sales"]], [bob, ["demo.sales", "demo.hr"]]] as const) {
      const r = await p.post("/v1/requests", { datasets, reason: "corpus", duration_seconds: 3600 });
      if (r.status !== 200 || r.body.request?.state !== "approved") throw new Error(`grant for ${p.username} failed: ${r.text}`);
    }
    return {
      broker, alice, bob,
      async close() {
        await broker.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await broker.close();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}
