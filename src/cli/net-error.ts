/** Turns a failed fetch into the `unreachable` error a person can act on, instead of "(TypeError)". */
import { JitError } from "../errors.ts";
import { humanDuration } from "./human.ts";

interface Cause {
  code?: string;
  name?: string;
  message?: string;
  errors?: Cause[];
  cause?: Cause;
}

/** The first system error code in an error's cause chain (undici nests them, and an AggregateError holds one per address). */
function causeCode(err: Cause | undefined, depth = 0): string | undefined {
  if (!err || depth > 5) return undefined;
  if (typeof err.code === "string" && !err.code.startsWith("ERR_")) return err.code;
  for (const e of err.errors ?? []) {
    const c = causeCode(e, depth + 1);
    if (c) return c;
  }
  return causeCode(err.cause, depth + 1) ?? (typeof err.code === "string" ? err.code : undefined);
}

const WORDS: Record<string, string> = {
  ECONNREFUSED: "connection refused",
  ECONNRESET: "the connection was reset",
  ENOTFOUND: "no such host",
  EAI_AGAIN: "the host name could not be resolved",
  EHOSTUNREACH: "no route to host",
  ENETUNREACH: "the network is unreachable",
  ETIMEDOUT: "the connection timed out",
  UND_ERR_CONNECT_TIMEOUT: "the connection timed out",
  UND_ERR_SOCKET: "the connection closed before an answer",
  UND_ERR_HEADERS_TIMEOUT: "no answer in time",
  CERT_HAS_EXPIRED: "its TLS certificate has expired",
  DEPTH_ZERO_SELF_SIGNED_CERT: "its TLS certificate is self-signed",
  SELF_SIGNED_CERT_IN_CHAIN: "its TLS certificate is not trusted",
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: "its TLS certificate is not trusted",
  ERR_TLS_CERT_ALTNAME_INVALID: "its TLS certificate is for another host name",
};

/** The `unreachable` JitError for a fetch to `baseUrl` that threw; `timeoutMs` is the limit that applied. */
export function unreachableError(err: unknown, baseUrl: string, timeoutMs: number): JitError {
  const e = err as Cause;
  if (e?.name === "TimeoutError" || causeCode(e) === "UND_ERR_HEADERS_TIMEOUT") {
    return new JitError("unreachable", `the broker at ${baseUrl} did not answer within ${humanDuration(timeoutMs / 1000)}`, {
      hint: `is it overloaded or stuck? Check it with: curl ${baseUrl}/healthz`,
      details: { reason: "timeout" },
    });
  }
  const code = causeCode(e);
  const words = code ? (WORDS[code] ?? code) : (e?.cause?.message ?? e?.message ?? "unknown network error");
  return new JitError("unreachable", `cannot reach the broker at ${baseUrl}: ${words}`, {
    hint: "is it running? Start one with: jit broker dev (or check --broker / JIT_BROKER)",
    details: code ? { reason: code } : {},
  });
}
