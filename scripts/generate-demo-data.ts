/**
 * Writes the demo warehouse's CSV files (customers, orders, employees) to data/demo/ or to the
 * folder given as the first argument. Seeded, so every run writes byte-identical files:
 *   node scripts/generate-demo-data.ts [outDir]
 * The data is synthetic: names from short lists, example.* e-mail domains, 555 phone numbers,
 * SSNs that pass the SSA validity rules and Luhn-valid card numbers, so masking has real work.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const SEED = 0x6a17_2024;

/** mulberry32: a tiny, well-mixed 32-bit PRNG; deterministic across Node versions. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Rng = () => number;
const int = (rng: Rng, min: number, max: number): number => min + Math.floor(rng() * (max - min + 1));
const pick = <T>(rng: Rng, items: readonly T[]): T => items[Math.floor(rng() * items.length)] as T;
const pad = (n: number, width: number): string => String(n).padStart(width, "0");

/** Picks by weight; the weights need not sum to 1. */
function weighted<T>(rng: Rng, items: readonly (readonly [T, number])[]): T {
  const total = items.reduce((sum, [, w]) => sum + w, 0);
  let r = rng() * total;
  for (const [item, w] of items) {
    r -= w;
    if (r < 0) return item;
  }
  return items[items.length - 1]![0];
}

const FIRST = [
  "James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David", "Elizabeth",
  "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah", "Carlos", "Karen",
  "Daniel", "Lisa", "Matthew", "Nancy", "Anthony", "Sofia", "Mark", "Aisha", "Wei", "Priya",
  "Kenji", "Fatima", "Liam", "Olivia", "Noah", "Emma", "Mateo", "Ava", "Hiro", "Chloe",
] as const;
const LAST = [
  "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez",
  "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson", "Martin",
  "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez", "Clark", "Ramirez", "Lewis", "Robinson",
  "Walker", "Young", "Allen", "King", "Wright", "Scott", "Nguyen", "Chen", "Patel", "O'Brien",
] as const;
const DOMAINS = [["example.com", 5], ["example.org", 3], ["mail.example.net", 2]] as const;
/** Population-like skew: a few big cities dominate. "Washington, DC" exercises CSV quoting. */
const CITIES = [
  ["New York", 18], ["Los Angeles", 12], ["Chicago", 9], ["Houston", 7], ["Phoenix", 5],
  ["Philadelphia", 5], ["San Antonio", 4], ["San Diego", 4], ["Dallas", 4], ["Austin", 4],
  ["San Francisco", 4], ["Seattle", 4], ["Denver", 3], ["Boston", 3], ["Washington, DC", 3],
  ["Atlanta", 3], ["Miami", 3], ["Portland", 2], ["Minneapolis", 2], ["Nashville", 2],
] as const;
const STATUSES = [["completed", 80], ["pending", 8], ["refunded", 6], ["cancelled", 6]] as const;
const DEPARTMENTS = [
  ["Engineering", 18, 115_000, 210_000], ["Sales", 12, 60_000, 140_000], ["Marketing", 7, 65_000, 130_000],
  ["Finance", 6, 75_000, 160_000], ["Support", 8, 48_000, 85_000], ["Operations", 6, 55_000, 110_000],
  ["People", 3, 60_000, 120_000],
] as const;

/** An SSN that passes the SSA rules: area not 000, 666 or 900-999; group not 00; serial not 0000. */
function ssn(rng: Rng): string {
  let area = int(rng, 1, 899);
  if (area === 666) area = 667;
  return `${pad(area, 3)}-${pad(int(rng, 1, 99), 2)}-${pad(int(rng, 1, 9999), 4)}`;
}

/** The Luhn check digit for a string of digits. */
function luhnDigit(body: string): number {
  let sum = 0;
  for (let i = 0; i < body.length; i++) {
    let d = Number(body[body.length - 1 - i]);
    if (i % 2 === 0) d *= 2;
    sum += d > 9 ? d - 9 : d;
  }
  return (10 - (sum % 10)) % 10;
}

/** A Luhn-valid 16-digit card number, about half written with spaces or dashes between groups. */
function cardNumber(rng: Rng): string {
  const prefix = weighted(rng, [["4", 5], [String(int(rng, 51, 55)), 4], ["6011", 1]] as const);
  let body = prefix;
  while (body.length < 15) body += String(int(rng, 0, 9));
  const digits = body + String(luhnDigit(body));
  const style = weighted(rng, [["", 2], [" ", 1], ["-", 1]] as const);
  return style === "" ? digits : (digits.match(/.{4}/g) as string[]).join(style);
}

function phone(rng: Rng): string {
  const line = `${pad(int(rng, 100, 199), 3)}-${pad(int(rng, 0, 9999), 4)}`;
  return rng() < 0.5 ? `+1-555-${line}` : `(555) ${line}`;
}

function person(rng: Rng, used: Set<string>, domain?: string): { fullName: string; email: string } {
  const first = pick(rng, FIRST);
  const last = pick(rng, LAST);
  const local = `${first}.${last}`.toLowerCase().replace(/[^a-z.]/g, "");
  const host = domain ?? weighted(rng, DOMAINS);
  let email = `${local}@${host}`;
  for (let n = 2; used.has(email); n++) email = `${local}${n}@${host}`;
  used.add(email);
  return { fullName: `${first} ${last}`, email };
}

const DAY_MS = 86_400_000;
const isoDate = (ms: number): string => new Date(ms).toISOString().slice(0, 10);
const isoTimestamp = (ms: number): string => new Date(ms).toISOString().slice(0, 19) + "Z";

/** One RFC 4180 field: quoted when it holds a comma, a quote or a line break. */
function csvField(value: string | number): string {
  const s = String(value);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

function csv(header: readonly string[], rows: readonly (readonly (string | number)[])[]): string {
  return [header, ...rows].map((row) => row.map(csvField).join(",")).join("\n") + "\n";
}

/** Builds the three CSV files' contents, keyed by file name. */
export function demoData(): Record<string, string> {
  const rng = mulberry32(SEED);
  const emails = new Set<string>();

  const signupStart = Date.UTC(2023, 0, 1);
  const signupEnd = Date.UTC(2025, 9, 31);
  const customers = Array.from({ length: 600 }, (_, i) => {
    const { fullName, email } = person(rng, emails);
    const signup = signupStart + Math.floor(rng() * ((signupEnd - signupStart) / DAY_MS + 1)) * DAY_MS;
    // Some customers buy far more often than others.
    const appetite = rng() < 0.15 ? 4 + rng() * 6 : 0.3 + rng() * 1.5;
    return { id: i + 1, fullName, email, phone: phone(rng), ssn: ssn(rng), card: cardNumber(rng), city: weighted(rng, CITIES), signup, appetite };
  });

  const ordersStart = Date.UTC(2024, 0, 1);
  const ordersEnd = Date.UTC(2026, 0, 1);
  const totalAppetite = customers.reduce((s, c) => s + c.appetite * (ordersEnd - Math.max(c.signup, ordersStart)), 0);
  const raw = Array.from({ length: 6000 }, () => {
    let r = rng() * totalAppetite;
    let customer = customers[customers.length - 1]!;
    for (const c of customers) {
      r -= c.appetite * (ordersEnd - Math.max(c.signup, ordersStart));
      if (r < 0) { customer = c; break; }
    }
    const from = Math.max(customer.signup + DAY_MS, ordersStart);
    const at = from + Math.floor(rng() * ((ordersEnd - from) / 1000)) * 1000;
    // Log-normal-ish basket sizes between ~5 and ~900.
    const cents = Math.round(Math.exp(Math.log(500) + rng() * Math.log(180)) );
    return { customerId: customer.id, at, cents, status: weighted(rng, STATUSES) };
  });
  raw.sort((a, b) => a.at - b.at || a.customerId - b.customerId);

  const staffEmails = new Set<string>();
  const employees = Array.from({ length: 60 }, (_, i) => {
    const { fullName, email } = person(rng, staffEmails, "corp.example.com");
    const [department, , low, high] = weighted(rng, DEPARTMENTS.map((d) => [d, d[1]] as const));
    const salary = Math.round((low + rng() * (high - low)) / 50) * 50;
    return [1001 + i, fullName, email, ssn(rng), department, `${salary}.00`] as const;
  });

  return {
    "customers.csv": csv(
      ["id", "full_name", "email", "phone", "ssn", "card_number", "city", "signup_date"],
      customers.map((c) => [c.id, c.fullName, c.email, c.phone, c.ssn, c.card, c.city, isoDate(c.signup)]),
    ),
    "orders.csv": csv(
      ["order_id", "customer_id", "amount", "status", "created_at"],
      raw.map((o, i) => [100001 + i, o.customerId, (o.cents / 100).toFixed(2), o.status, isoTimestamp(o.at)]),
    ),
    "employees.csv": csv(["employee_id", "full_name", "email", "ssn", "department", "salary"], employees),
  };
}

/** Writes the demo CSV files into outDir (created if missing). */
export function writeDemoData(outDir: string): void {
  mkdirSync(outDir, { recursive: true });
  for (const [name, content] of Object.entries(demoData())) writeFileSync(join(outDir, name), content);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const outDir = process.argv[2] ?? fileURLToPath(new URL("../data/demo/", import.meta.url));
  writeDemoData(outDir);
  console.error(`wrote customers.csv, orders.csv, employees.csv to ${outDir}`);
}
