/**
 * Content detectors: find sensitive values inside free text and replace each span with a token
 * (`[EMAIL]`, `[CREDIT_CARD]`, `[IBAN]`, `[SSN]`, `[PHONE]`). Whole spans are replaced, card numbers
 * included: a partial card is still a card. Each detector is one precompiled regex plus a validity check
 * (Luhn, mod-97, SSN area/group/serial rules), skipped when the text cannot hold a match.
 */
import type { DetectorName } from "../policy/types.ts";

export const TOKENS: Record<DetectorName, string> = {
  email: "[EMAIL]",
  credit_card: "[CREDIT_CARD]",
  iban: "[IBAN]",
  us_ssn: "[SSN]",
  phone: "[PHONE]",
};

export interface ScanOptions {
  /** Also flag bare or space-separated 9-digit SSNs without an "SSN" label nearby (used for error messages). */
  strict?: boolean;
}

export interface ScanResult {
  text: string;
  count: number;
}

// Email first (a card inside an address is masked with it), then IBAN before cards (an IBAN's digit groups
// can pass Luhn), then cards, SSNs and phones.
const ORDER: DetectorName[] = ["email", "iban", "credit_card", "us_ssn", "phone"];

const EMAIL = /(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.){1,8}[A-Za-z]{2,24}(?![A-Za-z0-9-])/g;
const CARD = /(?<!\d)\d(?:[ -]?\d){12,18}(?!\d)/g;
const IBAN = /(?<![A-Za-z0-9])[A-Za-z]{2}\d{2}(?: ?[A-Za-z0-9]{4}){2,7}(?: ?[A-Za-z0-9]{1,3})?(?![A-Za-z0-9])/g;
const SSN_DASHED = /(?<![\d-])\d{3}-\d{2}-\d{4}(?![\d-])/g;
const SSN_LOOSE = /(?<![\d-])\d{3} ?\d{2} ?\d{4}(?![\d-])/g;
const SSN_LABEL = /(?:\bssn|social\s+security(?:\s+(?:no|number))?|\bss#)\W{0,12}$/i;
const PHONE_NANP = /(?<![\w+])(?:\+?1[ .-]?)?(?:\(\d{3}\)[ .-]?|\d{3}[ .-])\d{3}[ .-]\d{4}(?!\w)/g;
const PHONE_INTL = /(?<![\w+])\+[1-9](?:[ .-]?\d){7,14}(?!\w)/g;

/** Replaces every detected span in `text`; `count` is the number of spans replaced. */
export function scanAndMask(text: string, detectors: readonly DetectorName[], opts: ScanOptions = {}): ScanResult {
  if (text.length < 6 || detectors.length === 0) return { text, count: 0 };
  // Cheap pre-checks: most strings hold neither '@' nor enough digits for any detector.
  let digits = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 48 && c <= 57) digits++;
  }
  const hasAt = text.includes("@");
  if (digits < 4 && !hasAt) return { text, count: 0 };
  let out = text;
  let count = 0;
  const replace = (re: RegExp, fn: (m: string, offset: number, s: string) => string | null) => {
    out = out.replace(re, (m: string, ...rest: unknown[]) => {
      const offset = rest[rest.length - 2] as number;
      const s = rest[rest.length - 1] as string;
      const r = fn(m, offset, s);
      if (r === null) return m;
      count++;
      return r;
    });
  };
  for (const d of ORDER) {
    if (!detectors.includes(d)) continue;
    if (d === "email" && hasAt) replace(EMAIL, () => TOKENS.email);
    if (d === "iban" && digits >= 4 && text.length >= 15) replace(IBAN, (m) => maskIban(m));
    if (d === "credit_card" && digits >= 13) replace(CARD, (m) => maskCards(m));
    if (d === "us_ssn" && digits >= 9) {
      replace(SSN_DASHED, (m) => (validSsn(m) ? TOKENS.us_ssn : null));
      replace(SSN_LOOSE, (m, offset, s) => {
        if (m.includes("-") || !validSsn(m)) return null;
        const labelled = SSN_LABEL.test(s.slice(Math.max(0, offset - 32), offset));
        const whole = s.trim() === m;
        return opts.strict || labelled || whole ? TOKENS.us_ssn : null;
      });
    }
    if (d === "phone" && digits >= 8) {
      replace(PHONE_NANP, (m) => (validNanp(m) ? TOKENS.phone : null));
      replace(PHONE_INTL, () => TOKENS.phone);
    }
  }
  return { text: out, count };
}

/** Luhn checksum over a string of digits. */
export function luhnValid(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

// Card numbers are written whole or in groups of four (Amex 4-6-5, Diners 4-6-4); dates and amounts are not.
function cardShape(groups: string[]): boolean {
  if (groups.length === 1) return true;
  const lens = groups.map((g) => g.length).join("-");
  if (lens === "4-6-5" || lens === "4-6-4") return true;
  return groups.slice(0, -1).every((g) => g.length === 4) && groups[groups.length - 1]!.length <= 4;
}

// A match may run two cards together or carry extra digit groups: try runs of whole groups, longest first.
function maskCards(m: string): string | null {
  const parts = m.split(/([ -])/);
  const groups = parts.filter((_, i) => i % 2 === 0);
  const seps = parts.filter((_, i) => i % 2 === 1);
  const pieces: string[] = [];
  let found = false;
  let i = 0;
  while (i < groups.length) {
    let end = -1;
    for (let j = Math.min(groups.length, i + 5); j > i; j--) {
      const run = groups.slice(i, j);
      const digits = run.join("");
      if (digits.length >= 13 && digits.length <= 19 && cardShape(run) && luhnValid(digits)) {
        end = j;
        break;
      }
    }
    if (end === -1) {
      pieces.push(groups[i]!, seps[i] ?? "");
      i++;
    } else {
      pieces.push(TOKENS.credit_card, seps[end - 1] ?? "");
      found = true;
      i = end;
    }
  }
  return found ? pieces.join("") : null;
}

/** SSA rules: area not 000, 666 or 900-999; group not 00; serial not 0000. */
export function validSsn(s: string): boolean {
  const d = s.replace(/\D/g, "");
  if (d.length !== 9) return false;
  const area = Number(d.slice(0, 3));
  return area !== 0 && area !== 666 && area < 900 && d.slice(3, 5) !== "00" && d.slice(5) !== "0000";
}

// NANP: the area code starts with 2-9 (the exchange rule is left out: fictional 555-0100 style numbers are still masked).
function validNanp(m: string): boolean {
  const d = m.replace(/\D/g, "");
  const local = d.length === 11 ? d.slice(1) : d;
  return local.length === 10 && local[0]! >= "2";
}

/** IBAN check: ISO country letters, 15-34 characters, mod-97 of the rearranged number equals 1. */
export function ibanValid(compact: string): boolean {
  const s = compact.toUpperCase();
  if (!/^[A-Z]{2}\d{2}[A-Z0-9]{11,30}$/.test(s)) return false;
  const expected = IBAN_LENGTHS[s.slice(0, 2)];
  if (expected !== undefined && expected !== s.length) return false;
  const rearranged = s.slice(4) + s.slice(0, 4);
  let rem = 0;
  for (const ch of rearranged) {
    const v = ch >= "A" ? String(ch.charCodeAt(0) - 55) : ch;
    for (const dig of v) rem = (rem * 10 + (dig.charCodeAt(0) - 48)) % 97;
  }
  return rem === 1;
}

// The match may swallow a following word ("DE89... THEN"): try space-separated prefixes, longest first.
function maskIban(m: string): string | null {
  const tokens = m.split(" ");
  for (let k = tokens.length; k >= 1; k--) {
    if (ibanValid(tokens.slice(0, k).join(""))) {
      const rest = tokens.slice(k).join(" ");
      return rest ? `${TOKENS.iban} ${rest}` : TOKENS.iban;
    }
  }
  return null;
}

const IBAN_LENGTHS: Record<string, number> = {
  AD: 24, AE: 23, AT: 20, BE: 16, BG: 22, BH: 22, BR: 29, CH: 21, CY: 28, CZ: 24, DE: 22, DK: 18, EE: 20,
  ES: 24, FI: 18, FR: 27, GB: 22, GI: 23, GR: 27, HR: 21, HU: 28, IE: 22, IL: 23, IS: 26, IT: 27, LI: 21,
  LT: 20, LU: 20, LV: 21, MC: 27, MT: 31, NL: 18, NO: 15, PL: 28, PT: 25, RO: 24, SA: 24, SE: 24, SI: 19,
  SK: 24, SM: 27, TR: 26,
};
