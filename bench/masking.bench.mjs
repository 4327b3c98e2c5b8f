// Masking throughput and memory: the broker's row masker (src/masking/row-masker.ts) with every detector on
// (credit_card, us_ssn, email, phone, iban), over realistic rows.
// Run: . scripts/node-env.sh && node --expose-gc bench/masking.bench.mjs [--rows 200000] [--stream 1000000]
import { createRowMasker } from "../src/masking/row-masker.ts";

const arg = (name, dflt) => (process.argv.includes(name) ? Number(process.argv[process.argv.indexOf(name) + 1]) : dflt);
const ROWS = arg("--rows", 200_000);
const STREAM = arg("--stream", 1_000_000);
const DETECTORS = ["credit_card", "us_ssn", "email", "phone", "iban"];
const hashKey = Buffer.alloc(32, 7);

// A deterministic generator (no Math.random): customer rows like the demo's, plus a free-text note that sometimes
// holds a card, an SSN, an e-mail, a phone number or an IBAN, as support tickets do.
function* customers(n) {
  const first = ["Sarah", "Jennifer", "Priya", "Barbara", "Wei", "Daniel", "Thomas", "Aisha", "Carlos", "Mei"];
  const last = ["Martin", "Davis", "Wright", "Martinez", "Lee", "Garcia", "Jones", "Nguyen", "Smith", "Kim"];
  const cities = ["Houston", "New York", "Los Angeles", "Boston", "Washington, DC", "Chicago", "Seattle", "Denver"];
  const notes = [
    "called about a late delivery, wants a refund",
    "card 4111 1111 1111 1111 declined twice",
    "new address on file; prefers e-mail contact at ops.team@example.org",
    "ssn 078-05-1120 provided for the credit check",
    "call back on (555) 201-7788 after 5pm",
    "wire from DE89 3704 0044 0532 0130 00 received",
    "order 100234 shipped 2025-03-14, tracking 1Z999AA10123456784",
    "",
  ];
  const luhn = (body) => {
    let sum = 0;
    for (let i = 0; i < body.length; i++) {
      let d = Number(body[body.length - 1 - i]);
      if (i % 2 === 0) d *= 2;
      sum += d > 9 ? d - 9 : d;
    }
    return body + ((10 - (sum % 10)) % 10);
  };
  let x = 12345;
  const next = () => (x = (x * 1103515245 + 12345) & 0x7fffffff);
  for (let i = 1; i <= n; i++) {
    const f = first[next() % first.length], l = last[next() % last.length];
    const d = String(next()).padStart(10, "0");
    const card = luhn(`4${d}${d.slice(0, 4)}`);
    yield {
      id: i,
      full_name: `${f} ${l}`,
      email: `${f.toLowerCase()}.${l.toLowerCase()}${i % 7}@example.com`,
      phone: `+1-555-${d.slice(0, 3)}-${d.slice(3, 7)}`,
      ssn: `${100 + (next() % 799)}-${String(10 + (next() % 89))}-${String(1000 + (next() % 8999))}`,
      card_number: i % 2 ? card : card.match(/.{4}/g).join(i % 4 === 0 ? " " : "-"),
      city: cities[next() % cities.length],
      signup_date: `2025-0${1 + (next() % 9)}-1${next() % 10}`,
      lifetime_value: String((next() % 100000) / 100),
      note: notes[next() % notes.length],
      tags: ["vip", `segment-${next() % 5}`],
    };
  }
}

const COLUMNS = ["id", "full_name", "email", "phone", "ssn", "card_number", "city", "signup_date", "lifetime_value", "note", "tags"];
const TYPES = { id: "INT64", signup_date: "DATE", lifetime_value: "NUMERIC", tags: "ARRAY" };
const STYLES = { email: "email", phone: "redact", ssn: "last4", card_number: "last4" };
const masker = (styled) => createRowMasker({
  columns: COLUMNS.map((name) => ({ name, type: TYPES[name] ?? "STRING", style: styled ? STYLES[name] : undefined })),
  detectors: DETECTORS,
  hashKey,
});

function throughput(label, mask, rows, bytes) {
  for (let i = 0; i < Math.min(rows.length, 20_000); i++) mask(rows[i]); // warm-up
  const runs = [];
  for (let r = 0; r < 3; r++) {
    const t = performance.now();
    let cells = 0;
    for (const row of rows) cells += mask(row).maskedCells;
    const s = (performance.now() - t) / 1000;
    runs.push({ mbs: bytes / 1e6 / s, rows: rows.length / s, cells });
  }
  runs.sort((a, b) => a.mbs - b.mbs);
  const med = runs[1];
  console.log(`| ${label} | ${med.mbs.toFixed(1)} | ${Math.round(med.rows).toLocaleString("en-US")} | ${(med.cells / rows.length).toFixed(2)} |`);
  return med.mbs;
}

// Memory first, on a fresh heap: a 1M-row stream, generator → masker → discard, heap and RSS sampled every 100k rows.
function memory() {
  const mask = masker(true);
  const mb = (n) => (n / 1048576).toFixed(1);
  console.log(`stream of ${STREAM.toLocaleString("en-US")} rows (gc ${globalThis.gc ? "forced before each sample" : "not exposed: run with --expose-gc for steadier numbers"})\n`);
  console.log("| rows | heapUsed MB | heapTotal MB | external MB | rss MB |\n|---|---|---|---|---|");
  const samples = [];
  let n = 0;
  const t0 = performance.now();
  for (const row of customers(STREAM)) {
    mask(row);
    if (++n % 100_000 === 0) {
      globalThis.gc?.();
      const m = process.memoryUsage();
      samples.push(m);
      console.log(`| ${n.toLocaleString("en-US")} | ${mb(m.heapUsed)} | ${mb(m.heapTotal)} | ${mb(m.external)} | ${mb(m.rss)} |`);
    }
}
const secs = (performance.now() - t0) / 1000;
const heap = samples.map((s) => s.heapUsed);
const rss = samples.map((s) => s.rss);
console.log(`\n${STREAM.toLocaleString("en-US")} rows in ${secs.toFixed(1)} s (generation included); heapUsed range ${mb(Math.min(...heap))}–${mb(Math.max(...heap))} MB, rss range ${mb(Math.min(...rss))}–${mb(Math.max(...rss))} MB`);
const growth = heap[heap.length - 1] - heap[0];
console.log(`heap growth first → last sample: ${mb(growth)} MB: ${Math.abs(growth) < 8 * 1048576 ? "flat" : "NOT flat"}`);
}

console.log(`Node ${process.version}`);
memory();

const rows = [...customers(ROWS)];
const bytes = rows.reduce((s, r) => s + Buffer.byteLength(JSON.stringify(r)), 0);
console.log(`\nNode ${process.version}, one core; ${ROWS.toLocaleString("en-US")} rows, ${(bytes / 1e6).toFixed(1)} MB of row JSON (${Math.round(bytes / ROWS)} B/row); median of 3 passes\n`);
console.log("| case | MB/s of row JSON | rows/s | masked cells/row |\n|---|---|---|---|");
const styled = throughput("demo policy styles (email, phone, ssn, card) + all 5 detectors on the rest", masker(true), rows, bytes);
const unstyled = throughput("no column styles: all 5 detectors on every cell", masker(false), rows, bytes);
const orders = rows.map((r) => ({ order_id: 100000 + r.id, customer_id: r.id, amount: r.lifetime_value, status: "completed", created_at: `${r.signup_date}T12:18:53Z` }));
const orderBytes = orders.reduce((s, r) => s + Buffer.byteLength(JSON.stringify(r)), 0);
const orderMask = createRowMasker({ columns: Object.keys(orders[0]).map((name) => ({ name, type: "STRING" })), detectors: DETECTORS, hashKey });
const plain = throughput("orders rows (numbers, dates, no PII): all 5 detectors", orderMask, orders, orderBytes);
console.log(`\ntarget ≥ 50 MB/s per core with every detector on: ${Math.min(styled, unstyled, plain) >= 50 ? "met" : "NOT met"}`);

