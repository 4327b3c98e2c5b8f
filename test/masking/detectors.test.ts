import { test } from "node:test";
import assert from "node:assert/strict";
import { ibanValid, luhnValid, scanAndMask, validSsn } from "../../src/masking/detectors.ts";
import type { DetectorName } from "../../src/policy/types.ts";

const ALL: DetectorName[] = ["credit_card", "us_ssn", "email", "phone", "iban"];
const scan = (s: string, d: DetectorName[] = ALL) => scanAndMask(s, d);

test("credit cards: Luhn-valid 13-19 digits, whole or in groups", () => {
  assert.deepEqual(scan("paid with 4111 1111 1111 1111 today"), { text: "paid with [CREDIT_CARD] today", count: 1 });
  assert.equal(scan("4111-1111-1111-1111").text, "[CREDIT_CARD]");
  assert.equal(scan("card:5500000000000004.").text, "card:[CREDIT_CARD].");
  assert.equal(scan("amex 3782 822463 10005").text, "amex [CREDIT_CARD]");
  assert.equal(scan("4111 1111 1111 1111 5500 0000 0000 0004").text, "[CREDIT_CARD] [CREDIT_CARD]");
});

test("credit cards: Luhn-invalid numbers, long IDs and dates are left alone", () => {
  assert.equal(scan("4111 1111 1111 1112").count, 0);
  assert.equal(scan("order 41111111111111111111111 shipped", ["credit_card"]).count, 0);
  assert.equal(scan("2021-01-01 2021-02-01 2021-03-01", ["credit_card"]).count, 0);
  assert.ok(luhnValid("79927398713") && !luhnValid("79927398710"));
});

test("SSNs: dashed form with SSA validity rules", () => {
  assert.equal(scan("ssn 123-45-6789").text, "ssn [SSN]");
  for (const bad of ["000-12-3456", "666-12-3456", "900-12-3456", "999-12-3456", "123-00-4567", "123-45-0000"]) {
    assert.equal(scan(`x ${bad} y`, ["us_ssn"]).count, 0, bad);
  }
  assert.ok(validSsn("123456789") && !validSsn("666456789"));
});

test("SSNs: bare 9 digits only with an SSN label, as a whole value, or in strict mode", () => {
  assert.equal(scan("SSN: 123456789").text, "SSN: [SSN]");
  assert.equal(scan("social security number 123 45 6789").text, "social security number [SSN]");
  assert.equal(scan("123456789", ["us_ssn"]).text, "[SSN]");
  assert.equal(scan("order 123456789 shipped", ["us_ssn"]).count, 0);
  assert.equal(scanAndMask("order 123456789 shipped", ["us_ssn"], { strict: true }).text, "order [SSN] shipped");
});

test("emails anywhere in text", () => {
  assert.equal(scan("mail John.Doe+tag@mail.example.co.uk, thanks").text, "mail [EMAIL], thanks");
  assert.equal(scan("<a@b.io>").text, "<[EMAIL]>");
  assert.equal(scan("user@localhost and @handle and a@b").count, 0);
});

test("phones: NANP with separators and E.164; dates, times and amounts are not phones", () => {
  assert.equal(scan("call (415) 555-0132 now").text, "call [PHONE] now");
  assert.equal(scan("call +1 415-555-0132").text, "call [PHONE]");
  assert.equal(scan("tel 415.555.0132").text, "tel [PHONE]");
  assert.equal(scan("london +44 20 7946 0958").text, "london [PHONE]");
  for (const s of ["2021-05-12", "2021-05-12 10:30:00", "$1,234,567.89", "12/31/2023", "v1.2.3456", "100-200-3000", "4155550132"]) {
    assert.equal(scan(`x ${s} y`, ["phone"]).count, 0, s);
  }
});

test("IBANs: country code, length and mod-97 check, spaced or compact", () => {
  assert.equal(scan("IBAN DE89 3704 0044 0532 0130 00 THEN").text, "IBAN [IBAN] THEN");
  assert.equal(scan("to GB82WEST12345698765432.").text, "to [IBAN].");
  assert.equal(scan("GB82WEST12345698765433", ["iban"]).count, 0);
  assert.ok(ibanValid("NO9386011117947") && !ibanValid("DE8937040044053201300"));
});

test("a card inside an email goes out with the email; only listed detectors run", () => {
  assert.equal(scan("x4111111111111111@pay.example.com").text, "[EMAIL]");
  assert.equal(scan("4111 1111 1111 1111 a@b.com", ["email"]).text, "4111 1111 1111 1111 [EMAIL]");
  assert.deepEqual(scan("4111 1111 1111 1111", []), { text: "4111 1111 1111 1111", count: 0 });
});

test("strings without digits or @ are returned untouched", () => {
  const s = "nothing sensitive here at all";
  assert.equal(scan(s).text, s);
});

test("detectors stay fast on adversarial text (timing reported, not asserted)", (t) => {
  const inputs = ["a".repeat(200_000) + "@", "1 ".repeat(100_000), "1-".repeat(100_000), "@a.".repeat(50_000), "DE89 ".repeat(40_000)];
  const start = performance.now();
  for (const s of inputs) scanAndMask(s, ALL);
  t.diagnostic(`detectors: ${(performance.now() - start).toFixed(1)} ms for ${inputs.length} strings of ~200 KB`);
});

// The pre-checks skip a detector when no stretch of digits and separators is long enough: these sit at the edges.
test("pre-checks never skip a match: separators in pairs, prefixes, and the shortest forms still match", () => {
  assert.equal(scan("tel 1 (555) 201-7788").text, "tel [PHONE]");
  assert.equal(scan("x 555.201.7788 y").text, "x [PHONE] y");
  assert.equal(scan("+44 20 7946 0958").text, "[PHONE]");
  assert.equal(scan("+12345678").text, "[PHONE]", "E.164 with eight digits");
  assert.equal(scan("12345678", ["phone"]).count, 0, "without + eight digits are not a phone");
  assert.equal(scan("ssn: 078 05 1120").text, "ssn: [SSN]");
  assert.equal(scan("4111-1111 1111-1111").text, "[CREDIT_CARD]");
  assert.equal(scan("4222222222222").text, "[CREDIT_CARD]", "13 digits");
  assert.equal(scan("4111 1111 1111 1111 | 4111111111111111").text, "[CREDIT_CARD] | [CREDIT_CARD]");
  assert.equal(scan("2025-01-11T12:18:53Z 2025-01-12T01:02:03Z").count, 0, "timestamps are not phones, cards or SSNs");
  assert.equal(scan("4111 1111 1111 1111 (555) 201-7788 078-05-1120").text, "[CREDIT_CARD] [PHONE] [SSN]");
});
