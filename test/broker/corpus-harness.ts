/**
 * Shared setup for the end-to-end corpora: the real dev broker in-process on the real demo data (or a copy with one
 * value changed, or another policy), alice (analysts) with a demo.sales grant and bob (data-owners) with demo.hr, and
 * the leak checks every answer goes through: raw sensitive values and their reversible transforms anywhere in the
 * text (forbiddenStrings/leaksIn), and per-row numbers that spell a digit or character code of one (numberLeaks).
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { devSignIn } from "../../src/demo/sign-in.ts";
import { type DevBroker, startDevBroker } from "../../src/broker/dev.ts";
import { loadPolicyFile } from "../../src/policy/load.ts";
import type { Warehouse } from "../../src/warehouse/types.ts";
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

/** The numbers one person's sensitive values yield, by name: each digit, character code and run of digits, and lengths. */
type Features = Map<string, number>;

function stringFeatures(out: Features, field: string, value: string): void {
  const chars = Array.from(value);
  chars.forEach((ch, i) => out.set(`${field} code[${i}]`, ch.codePointAt(0)!));
  [...value.replace(/\D/g, "")].forEach((d, i) => out.set(`${field} digit[${i}]`, Number(d)));
  (value.match(/\d{2,}/g) ?? []).forEach((run, i) => out.set(`${field} digits run[${i}]`, Number(run)));
  out.set(`${field} length`, chars.length);
}

function personFeatures(): { customers: Map<number, Features>; employees: Map<number, Features> } {
  const customers = new Map<number, Features>();
  for (const c of demo.customers) {
    const f: Features = new Map();
    for (const field of ["ssn", "card_number", "phone", "email"]) stringFeatures(f, field, c[field]!);
    customers.set(Number(c.id), f);
  }
  const employees = new Map<number, Features>();
  for (const e of demo.employees) {
    const f: Features = new Map();
    for (const field of ["ssn", "email"]) stringFeatures(f, field, e[field]!);
    const salary = Number(e.salary);
    f.set("salary", salary);
    f.set("salary in thousands", Math.floor(salary / 1000));
    [...String(Math.trunc(salary))].forEach((d, i) => f.set(`salary digit[${i}]`, Number(d)));
    employees.set(Number(e.employee_id), f);
  }
  // A feature every person shares (an SSN's length, the dash's code) carries nothing about anyone.
  for (const people of [customers, employees]) {
    const counts = new Map<string, Map<number, number>>();
    for (const f of people.values()) for (const [k, v] of f) {
      const m = counts.get(k) ?? new Map<number, number>();
      m.set(v, (m.get(v) ?? 0) + 1);
      counts.set(k, m);
    }
    const shared = [...counts].filter(([, m]) => Math.max(...m.values()) >= 0.9 * people.size).map(([k]) => k);
    for (const f of people.values()) for (const k of shared) f.delete(k);
  }
  return { customers, employees };
}

const FEATURES = personFeatures();

/** Every person's digit and code-point sequences, as "n,n,n" (an ARRAY<INT64> cell equal to one is a leak). */
const SEQUENCES = new Map<string, string>();
for (const [label, people, fields] of [["customer", demo.customers, ["ssn", "card_number", "phone", "email"]], ["employee", demo.employees, ["ssn", "email"]]] as const) {
  for (const p of people) {
    for (const field of fields) {
      const v = p[field]!;
      SEQUENCES.set(Array.from(v).map((ch) => ch.codePointAt(0)).join(","), `${label} ${p.id ?? p.employee_id} ${field} code points`);
      SEQUENCES.set([...v.replace(/\D/g, "")].join(","), `${label} ${p.id ?? p.employee_id} ${field} digits`);
    }
  }
}

const asNumber = (v: unknown): number | undefined => {
  if (typeof v === "number") return v;
  if (typeof v === "string" && /^-?\d+(\.\d+)?$/.test(v)) return Number(v);
  return undefined;
};

/**
 * Per-row numbers in unmasked output columns that equal a digit, character code, run of digits or length of the
 * row's person's sensitive values (or an employee's salary): a column matching one such feature on >= 90% of >= 5
 * rows, with at least two distinct values, is a leak. Rows are lined up with people by an id column (id,
 * customer_id, employee_id) when there is one, and by position (CSV order) otherwise.
 */
export function numberLeaks(body: any): string[] {
  if (!body || !Array.isArray(body.columns) || !Array.isArray(body.rows)) return [];
  const rows: Array<Record<string, unknown>> = body.rows.slice(0, 2000);
  const found: string[] = [];
  const clear = body.columns.filter((c: { masked?: boolean }) => !c.masked).map((c: { name: string }) => c.name) as string[];
  for (const row of rows) {
    for (const name of clear) {
      const v = row[name];
      if (Array.isArray(v) && v.length >= 4 && v.every((x) => asNumber(x) !== undefined)) {
        const what = SEQUENCES.get(v.map((x) => asNumber(x)).join(","));
        if (what) found.push(`${name}: ${what}`);
      }
    }
  }
  const byId = (col: string, people: Map<number, Features>) => rows.map((r) => people.get(asNumber(r[col]) ?? NaN));
  const alignments: Array<[string, Array<Features | undefined>, string | null]> = [
    ["position, customers", rows.map((_, i) => FEATURES.customers.get(i + 1)), null],
    ["position, employees", rows.map((_, i) => FEATURES.employees.get(1001 + i)), null],
  ];
  for (const col of clear) {
    const lower = col.toLowerCase();
    if (lower === "id" || lower === "customer_id") alignments.push([`${col}, customers`, byId(col, FEATURES.customers), col]);
    if (lower === "employee_id" || lower === "id") alignments.push([`${col}, employees`, byId(col, FEATURES.employees), col]);
  }
  for (const [label, people, key] of alignments) {
    for (const col of clear) {
      if (col === key) continue;
      let n = 0;
      const matches = new Map<string, number>();
      const values = new Set<number>();
      rows.forEach((r, i) => {
        const v = asNumber(r[col]);
        const f = people[i];
        if (v === undefined || !f) return;
        n++;
        values.add(v);
        for (const [k, x] of f) if (x === v) matches.set(k, (matches.get(k) ?? 0) + 1);
      });
      if (n < 5 || values.size < 2) continue;
      for (const [k, m] of matches) if (m >= 0.9 * n) found.push(`${col} equals ${k} on ${m}/${n} rows (rows lined up by ${label})`);
    }
  }
  return [...new Set(found)];
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

export interface CorpusBrokerOptions {
  /** Load the demo warehouse from this directory of CSVs instead of data/demo (a copy with one value changed). */
  warehouseDataDir?: string;
  /** The broker's masking key (hex); by default a fresh random one, as `jit broker dev` creates. */
  hashKeyHex?: string;
  /** Replace the demo policy with this YAML (same groups and datasets; other masking rules). */
  policyYaml?: string;
}

/**
 * Starts the dev broker on a free port with a temp data dir; alice holds demo.sales, bob demo.sales and demo.hr.
 * With options, the broker is the same dev broker with its warehouse or policy swapped through `deps` before the
 * first query (src has no option for either; `deps` is read on every request).
 */
export async function startCorpusBroker(opts: CorpusBrokerOptions = {}): Promise<CorpusBroker> {
  const dir = mkdtempSync(join(tmpdir(), "jit-corpus-"));
  if (opts.hashKeyHex) writeFileSync(join(dir, "hash.key"), opts.hashKeyHex, { mode: 0o600 });
  const broker = await startDevBroker({ port: 0, dataDir: dir });
  let swapped: Warehouse | undefined;
  const closeAll = async () => {
    await broker.close();
    await swapped?.close();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    if (opts.warehouseDataDir) {
      const { openDemoWarehouse } = await import("../../src/warehouse/duckdb.ts");
      swapped = await openDemoWarehouse({ dataDir: opts.warehouseDataDir });
      broker.deps.warehouse = swapped;
    }
    if (opts.policyYaml) {
      const path = join(dir, "policy.yaml");
      writeFileSync(path, opts.policyYaml);
      const policy = loadPolicyFile(path);
      broker.deps.policy = () => policy;
    }
    const [alice, bob] = await Promise.all([signIn(broker, "alice"), signIn(broker, "bob")]);
    for (const [p, datasets] of [[alice, ["demo.sales"]], [bob, ["demo.sales", "demo.hr"]]] as const) {
      const r = await p.post("/v1/requests", { datasets, reason: "corpus", duration_seconds: 3600 });
      if (r.status !== 200 || r.body.request?.state !== "approved") throw new Error(`grant for ${p.username} failed: ${r.text}`);
    }
    return { broker, alice, bob, close: closeAll };
  } catch (err) {
    await closeAll();
    throw err;
  }
}
