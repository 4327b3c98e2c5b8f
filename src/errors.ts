/** Error codes of SPEC.md, each with its exit code. One place maps them; nothing else calls process.exit. */
export const EXIT_CODES = {
  internal: 1,
  usage: 2,
  unauthenticated: 3,
  denied: 4,
  pending: 5,
  query_failed: 6,
  unreachable: 7,
} as const;

export type ErrorCode = keyof typeof EXIT_CODES;

/** HTTP status the broker answers with for each code. */
export const HTTP_STATUS: Record<ErrorCode, number> = {
  internal: 500,
  usage: 400,
  unauthenticated: 401,
  denied: 403,
  pending: 409,
  query_failed: 422,
  unreachable: 502,
};

/** The one error type of jit: a SPEC code, a one-line message, a hint naming the next command, details for --json. */
export class JitError extends Error {
  readonly code: ErrorCode;
  readonly hint: string | undefined;
  readonly details: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, opts: { hint?: string; details?: Record<string, unknown>; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = "JitError";
    this.code = code;
    this.hint = opts.hint;
    this.details = opts.details ?? {};
  }

  /** The wire/--json shape: {"error": {"code", "message", "hint", ...details}}. */
  toJSON(): { error: Record<string, unknown> } {
    const body: Record<string, unknown> = { code: this.code, message: this.message };
    if (this.hint) body.hint = this.hint;
    return { error: { ...body, ...this.details } };
  }
}

/** Builds a JitError from the broker's JSON error body, falling back to `internal` for unknown codes. */
export function errorFromBody(body: unknown, fallbackMessage: string): JitError {
  const e = (body as { error?: Record<string, unknown> } | undefined)?.error;
  if (!e || typeof e !== "object") return new JitError("internal", fallbackMessage);
  const { code, message, hint, ...details } = e;
  const known = typeof code === "string" && code in EXIT_CODES;
  return new JitError(known ? (code as ErrorCode) : "internal", typeof message === "string" ? message : fallbackMessage, {
    hint: typeof hint === "string" ? hint : undefined,
    details,
  });
}

export const usageError = (message: string, hint?: string) => new JitError("usage", message, { hint });
export const deniedError = (message: string, hint?: string, details?: Record<string, unknown>) =>
  new JitError("denied", message, { hint, details });
