/** Tables that fit, one style for sizes, durations and times, and the --json/--format contradiction. */
import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { test } from "node:test";
import { checkFormat, screenRows } from "../../src/cli/commands/query.ts";
import { timeFlag } from "../../src/cli/commands/audit.ts";
import { humanBytes, humanDuration, humanRelative, localTime } from "../../src/cli/human.ts";
import { makeIO } from "../../src/cli/io.ts";
import { main } from "../../src/cli/main.ts";
import { maskLegend, toSimpleTable, toTable } from "../../src/cli/output.ts";
import { displayWidth, fitWidths, renderTable, truncate } from "../../src/cli/table.ts";

const widest = (text: string) => Math.max(...text.split("\n").map(displayWidth));

test("a table is cut to the width, long cells end in …, numbers are right-aligned, no borders", () => {
  const columns = [
    { name: "id", type: "INT64" },
    { name: "full_name", type: "STRING" },
    { name: "ssn", type: "STRING", masked: true, mask: "last4" },
    { name: "note", type: "STRING" },
  ];
  const rows = [
    { id: 7, full_name: "Sarah Martin", ssn: "XXXXX4575", note: "x".repeat(200) },
    { id: 12345, full_name: "Jennifer Davis", ssn: "XXXXX2186", note: "line one\nline two" },
  ];
  const text = toTable(columns, rows, (s) => s, { width: 80 });
  assert.ok(widest(text) <= 80, text);
  const lines = text.split("\n");
  assert.equal(lines.length, 4, "header, rule, two rows: no line between rows");
  assert.match(lines[1]!, /^─+ {2}─+/);
  assert.match(lines[2]!, /^ {4}7 {2}Sarah Martin/, "numbers right-aligned");
  assert.match(lines[2]!, /x…$/);
  assert.match(lines[3]!, /line one↵line two/, "a newline in a value does not break the row");
  assert.doesNotMatch(text, /[│┌]/);
  // Without a width (a pipe) nothing is cut.
  assert.ok(widest(toTable(columns, rows)) > 200);
});

test("masked headers say their style, or shorten to name* with a legend when they would not fit", () => {
  const columns = [{ name: "card_number", type: "STRING", masked: true, mask: "last4" }, { name: "email", type: "STRING", masked: true, mask: "email" }];
  const rows = [{ card_number: "XXXXX0776", email: "XXXXX@example.com" }];
  assert.match(toTable(columns, rows, (s) => s, { width: 140 }), /^card_number \(last4\) {2}email \(email\)/);
  assert.equal(maskLegend(columns, rows, 140), undefined);
  assert.match(toTable(columns, rows, (s) => s, { width: 30 }), /^card_number\* {2}email\*/);
  assert.equal(maskLegend(columns, rows, 30), "* masked: card_number (last4), email (email)");
});

test("flexible columns give way before the others", () => {
  assert.deepEqual(fitWidths([2, 23, 50], 60, [2]), [2, 23, 31]);
  assert.deepEqual(fitWidths([2, 23, 50], 60), [2, 23, 31]);
  assert.deepEqual(fitWidths([30, 30, 30], 60, [2]), [20, 18, 18], "flexible alone cannot make room: all columns narrow");
  const t = toSimpleTable(["id", "time", "what"], [["1", "2026-12-02 07:13:05 UTC", "SELECT ".repeat(20)]], { width: 50, flexible: ["what"] });
  assert.match(t, /2026-12-02 07:13:05 UTC {2}SELECT/, "the time is whole");
  assert.ok(widest(t) <= 50);
});

test("wide characters count twice and are not split", () => {
  assert.equal(displayWidth("東京"), 4);
  assert.equal(truncate("東京都庁", 5), "東京…");
  assert.ok(widest(renderTable(["city"], [["東京都庁舎"]], { width: 6 })) <= 6);
});

test("one style for sizes, durations and times", () => {
  assert.equal(humanBytes(0), "0 B");
  assert.equal(humanBytes(812), "812 B");
  assert.equal(humanBytes(70_500), "70.5 kB");
  assert.equal(humanBytes(1_000_000), "1 MB");
  assert.equal(humanBytes(305_123), "305 kB");
  assert.equal(humanDuration(45), "45s");
  assert.equal(humanDuration(90), "1m30s");
  assert.equal(humanDuration(900), "15m");
  assert.equal(humanDuration(5400), "1h30m");
  assert.equal(humanDuration(8 * 3600), "8h");
  assert.equal(humanDuration(86400 + 7200), "1d2h");
  const now = Date.parse("2026-12-02T07:00:00Z");
  assert.equal(humanRelative("2026-12-02T06:55:00Z", now), "5m ago");
  assert.equal(humanRelative("2026-12-02T14:59:00Z", now), "in 7h59m");
  assert.equal(localTime("2026-12-02T07:13:05Z", "Europe/Berlin"), "2026-12-02 08:13:05 CET");
  assert.equal(localTime("2026-07-02T07:13:05Z", "America/New_York"), "2026-07-02 03:13:05 EDT");
  assert.equal(localTime("2026-12-02T07:13:05Z", "UTC"), "2026-12-02 07:13:05 UTC");
});

test("--since 10m is ten minutes ago; a date passes through", () => {
  const now = Date.parse("2026-12-02T07:00:00Z");
  assert.equal(timeFlag("10m", now), "2026-12-02T06:50:00.000Z");
  assert.equal(timeFlag("7d", now), "2026-11-25T07:00:00.000Z");
  assert.equal(timeFlag("2026-11-01", now), "2026-11-01");
  assert.equal(timeFlag(undefined, now), undefined);
});

test("a query on a terminal shows a screenful by default", () => {
  assert.equal(screenRows(30), 24);
  assert.equal(screenRows(8), 10);
  assert.equal(screenRows(undefined), 20);
});

test("--json with --format csv is a usage error (exit 2), not silently CSV", async () => {
  assert.throws(() => checkFormat(true, "csv"), { code: "usage" });
  assert.doesNotThrow(() => checkFormat(true, "json"));
  assert.doesNotThrow(() => checkFormat(false, "csv"));
  const stderr = new PassThrough();
  let err = "";
  stderr.on("data", (d) => (err += d));
  const io = makeIO({ stdout: new PassThrough(), stderr, stdin: new PassThrough(), env: { NO_COLOR: "1", JIT_BROKER: "http://127.0.0.1:9" }, isStdoutTTY: false, isStderrTTY: false, isStdinTTY: false });
  assert.equal(await main(["query", "--json", "--format", "csv", "SELECT 1"], io), 2);
  assert.equal((JSON.parse(err) as { error: { code: string } }).error.code, "usage");
});
