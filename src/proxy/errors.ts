/**
 * BigQuery-style errors for the proxy, and the mapping from the broker's SPEC codes to them.
 * Refusals use reasons clients show and never retry: accessDenied, invalidQuery, invalid, notFound,
 * duplicate. rateLimitExceeded, backendError and internalError make Google's clients retry, so they
 * are kept for real outages (the broker unreachable, an unexpected failure), never for a refusal.
 */
import { JitError } from "../errors.ts";

export type BigQueryReason =
  | "accessDenied" | "invalidQuery" | "invalid" | "notFound" | "duplicate" | "authError" | "stopped"
  | "backendError" | "internalError";

const STATUS_NAME: Record<number, string> = {
  400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
  409: "ALREADY_EXISTS", 500: "INTERNAL", 503: "UNAVAILABLE",
};

/** One BigQuery error: HTTP status, `errors[].reason`, and a message that says what to do. */
export class BigQueryError extends Error {
  readonly status: number;
  readonly reason: BigQueryReason;

  constructor(status: number, reason: BigQueryReason, message: string) {
    super(message);
    this.name = "BigQueryError";
    this.status = status;
    this.reason = reason;
  }

  /** The JSON body Google's APIs answer with. */
  body(): { error: { code: number; message: string; errors: Array<Record<string, string>>; status: string } } {
    return {
      error: {
        code: this.status,
        message: this.message,
        errors: [{ message: this.message, domain: "global", reason: this.reason }],
        status: STATUS_NAME[this.status] ?? "UNKNOWN",
      },
    };
  }

  /** The `status.errorResult` of a job that ended with this error. */
  errorProto(): { reason: string; message: string; location?: string } {
    return { reason: this.reason, message: this.message };
  }
}

/** Joins a broker message and its hint into one line a client shows as is. */
function withHint(err: JitError): string {
  const message = err.message.replace(/[.\s]+$/, "");
  if (!err.hint) return `jit: ${message}`;
  return `jit: ${message}. ${/^run:/i.test(err.hint) ? err.hint.replace(/^run:\s*/i, "Run: ") : `Next: ${err.hint}`}`;
}

/** What the proxy was doing when the broker answered, so "not found" and "invalid" read right. */
export type Operation = "query" | "metadata";

/** Maps anything the broker client throws to the BigQuery error a client should see. */
export function bigQueryErrorFrom(err: unknown, op: Operation): BigQueryError {
  if (err instanceof BigQueryError) return err;
  if (!(err instanceof JitError)) {
    return new BigQueryError(500, "internalError", "jit proxy hit an unexpected error; run it in a terminal to see its log");
  }
  switch (err.code) {
    case "unauthenticated":
      return new BigQueryError(401, "authError", withHint(err));
    case "denied":
      // The broker refuses SQL it cannot analyse with `denied`; to a BigQuery client that is a bad query, not a missing right.
      // (It says so only in its message today: a details field would be sturdier.)
      if (op === "query" && (err.details.reason === "unanalysable" || /^the broker cannot analyse this SQL/.test(err.message))) {
        return new BigQueryError(400, "invalidQuery", withHint(err));
      }
      return new BigQueryError(403, "accessDenied", withHint(err));
    case "pending":
      return new BigQueryError(403, "accessDenied", withHint(err));
    case "usage":
      if (err.details.status === 404) return new BigQueryError(404, "notFound", withHint(err));
      return new BigQueryError(400, op === "query" ? "invalidQuery" : "invalid", withHint(err));
    case "query_failed":
      return new BigQueryError(400, op === "query" ? "invalidQuery" : "invalid", withHint(err));
    case "unreachable":
      // An outage, not a refusal: a retry may help, so the retryable reason is the honest one.
      return new BigQueryError(503, "backendError", withHint(err));
    case "internal":
      return new BigQueryError(500, "internalError", withHint(err));
  }
}

/** What the proxy serves, named in every "not supported" answer. */
export const SUPPORTED =
  "jit proxy serves read-only BigQuery: jobs.query, jobs.insert (query jobs and dry runs), jobs.get, jobs.getQueryResults, " +
  "jobs.cancel, datasets.list, datasets.get, tables.list, tables.get and tabledata.list";

/** The refusal for a method or job type outside the subset; it is never forwarded. */
export function unsupported(what: string, write: boolean): BigQueryError {
  return write
    ? new BigQueryError(403, "accessDenied", `jit: ${what} is refused: ${SUPPORTED}`)
    : new BigQueryError(400, "invalid", `jit: ${what} is not supported: ${SUPPORTED}`);
}
