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
  // Cheap pre-checks: most strings hold neither '@' nor enough digits for any detector. `run` counts the digits of the
  // longest stretch of digits and separators (space - . ( ), at most two in a row): every card, SSN and phone number
  // the regexes below can match lies inside one such stretch, so a shorter one rules that detector out.
  let digits = 0, run = 0, longest = 0, gap = 0;
  let hasAt = false, hasPlus = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      digits++;
      gap = 0;
      if (++run > longest) longest = run;
    } else if (c === 32 || c === 45 || c === 46 || c === 40 || c === 41) {
      if (++gap > 2) run = 0;
    } else {
      run = 0;
      gap = 0;
      if (c === 64) hasAt = true;
      else if (c === 43) hasPlus = true;
    }
  }
  if (digits < 4 && !hasAt) return { text, count: 0 };
  let email = false, iban = false, card = false, ssn = false, phone = false;
  for (const d of detectors) {
    if (d === "email") email = true;
    else if (d === "iban") iban = true;
    else if (d === "credit_card") card = true;
    else if (d === "us_ssn") ssn = true;
    else if (d === "phone") phone = true;
  }
  const state = { text, count: 0 };
  // In that order; each pass runs on the text the previous ones left.
  if (email && hasAt) replaceMatches(state, EMAIL, emailToken);
  if (iban && digits >= 4 && text.length >= 15) replaceMatches(state, IBAN, maskIban);
  if (card && longest >= 13) replaceMatches(state, CARD, maskCards);
  if (ssn && longest >= 9) {
    replaceMatches(state, SSN_DASHED, dashedSsn);
    replaceMatches(state, SSN_LOOSE, opts.strict ? looseSsnStrict : looseSsn);
  }
  if (phone && longest >= 10) replaceMatches(state, PHONE_NANP, nanpPhone);
  if (phone && hasPlus && longest >= 8) replaceMatches(state, PHONE_INTL, intlPhone);
  return state;
}

const emailToken = () => TOKENS.email;
const dashedSsn = (m: string) => (validSsn(m) ? TOKENS.us_ssn : null);
const nanpPhone = (m: string) => (validNanp(m) ? TOKENS.phone : null);
const intlPhone = () => TOKENS.phone;
const looseSsnStrict = (m: string) => (!m.includes("-") && validSsn(m) ? TOKENS.us_ssn : null);
// Without strict matching, a bare 9-digit number is an SSN only when labelled as one or when it is the whole value.
function looseSsn(m: string, offset: number, s: string): string | null {
  if (m.includes("-") || !validSsn(m)) return null;
  const labelled = SSN_LABEL.test(s.slice(Math.max(0, offset - 32), offset));
  return labelled || s.trim() === m ? TOKENS.us_ssn : null;
}

/**
 * `text.replace(re, fn)` for a global regex, where `fn` may return null to keep a match. Same matches, left to right,
 * without replace()'s per-match argument arrays; a text with no match (the common case) allocates nothing.
 */
function replaceMatches(state: ScanResult, re: RegExp, fn: (m: string, offset: number, s: string) => string | null): void {
  const s = state.text;
  re.lastIndex = 0;
  let m = re.exec(s);
  if (m === null) return;
  let out = "";
  let last = 0;
  let replaced = false;
  do {
    const r = fn(m[0], m.index, s);
    if (r !== null) {
      out += s.slice(last, m.index) + r;
      last = m.index + m[0].length;
      replaced = true;
      state.count++;
    }
    m = re.exec(s);
  } while (m !== null);
  re.lastIndex = 0;
  if (replaced) state.text = out + s.slice(last);
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
  const n = groups.length;
  if (n === 1) return true;
  if (n === 3 && groups[0]!.length === 4 && groups[1]!.length === 6 && (groups[2]!.length === 5 || groups[2]!.length === 4)) return true;
  for (let i = 0; i < n - 1; i++) if (groups[i]!.length !== 4) return false;
  return groups[n - 1]!.length <= 4;
}

// A match may run two cards together or carry extra digit groups: try runs of whole groups, longest first.
function maskCards(m: string): string | null {
  const groups: string[] = [];
  const seps: string[] = [];
  let start = 0;
  for (let k = 0; k < m.length; k++) {
    const c = m.charCodeAt(k);
    if (c === 32 || c === 45) {
      groups.push(m.slice(start, k));
      seps.push(m[k]!);
      start = k + 1;
    }
  }
  groups.push(m.slice(start));
  // One run of digits (the regex guarantees 13 to 19 of them): a card or not, as a whole.
  if (groups.length === 1) return luhnValid(m) ? TOKENS.credit_card : null;
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
  let n = 0, area = 0, group = 0, serial = 0;
  for (let i = 0; i < s.length; i++) {
    const d = s.charCodeAt(i) - 48;
    if (d < 0 || d > 9) continue;
    if (n < 3) area = area * 10 + d;
    else if (n < 5) group = group * 10 + d;
    else serial = serial * 10 + d;
    n++;
  }
  return n === 9 && area !== 0 && area !== 666 && area < 900 && group !== 0 && serial !== 0;
}

// NANP: the area code starts with 2-9 (the exchange rule is left out: fictional 555-0100 style numbers are still masked).
function validNanp(m: string): boolean {
  let n = 0, first = -1, second = -1;
  for (let i = 0; i < m.length; i++) {
    const d = m.charCodeAt(i) - 48;
    if (d < 0 || d > 9) continue;
    if (n === 0) first = d;
    else if (n === 1) second = d;
    n++;
  }
  // Ten digits, or eleven with the country code in front: the local number's first digit decides.
  return (n === 10 && first >= 2) || (n === 11 && second >= 2);
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
