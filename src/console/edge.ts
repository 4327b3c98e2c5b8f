/** HTTP plumbing of the console: security headers, cookies, bounded form bodies, the broker's own origin. */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { TLSSocket } from "node:tls";
import { JitError } from "../errors.ts";
import type { Html } from "./html.ts";

/** Strict by design: scripts and styles only from the broker's own hashed files, nothing inline, no framing. */
export const CSP = [
  "default-src 'none'", "script-src 'self'", "style-src 'self'", "img-src 'self'", "connect-src 'self'",
  "form-action 'self'", "frame-ancestors 'none'", "base-uri 'none'",
].join("; ");

const SECURITY_HEADERS = {
  "content-security-policy": CSP,
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "referrer-policy": "same-origin",
  "cross-origin-opener-policy": "same-origin",
  "cross-origin-resource-policy": "same-origin",
  "permissions-policy": "camera=(), microphone=(), geolocation=()",
};

/** Sends a page with the console's headers; pages are never cached (they show who may do what, now). */
export function sendPage(res: ServerResponse, status: number, page: Html, headers: Record<string, string | string[]> = {}): void {
  const body = Buffer.from(page.text);
  res.writeHead(status, { ...SECURITY_HEADERS, "content-type": "text/html; charset=utf-8", "content-length": body.length, "cache-control": "no-store", ...headers });
  res.end(body);
}

/** Sends JSON (the live-update fingerprints). */
export function sendConsoleJson(res: ServerResponse, status: number, value: unknown): void {
  const body = Buffer.from(JSON.stringify(value));
  res.writeHead(status, { ...SECURITY_HEADERS, "content-type": "application/json; charset=utf-8", "content-length": body.length, "cache-control": "no-store" });
  res.end(body);
}

/** A redirect (303 after a POST, so a reload never re-submits). */
export function redirect(res: ServerResponse, location: string, status = 303, headers: Record<string, string | string[]> = {}): void {
  res.writeHead(status, { ...SECURITY_HEADERS, location, "cache-control": "no-store", "content-length": 0, ...headers });
  res.end();
}

/** Sends a static asset: immutable, since its name carries its hash. */
export function sendAsset(res: ServerResponse, type: string, body: Buffer): void {
  res.writeHead(200, { ...SECURITY_HEADERS, "content-type": type, "content-length": body.length, "cache-control": "public, max-age=31536000, immutable" });
  res.end(body);
}

const MAX_FORM = 64 * 1024;

/** Reads an url-encoded form body (at most 64 kB). */
export async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  const type = String(req.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
  if (type !== "application/x-www-form-urlencoded") throw new JitError("usage", "the console accepts only form submissions");
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_FORM) throw new JitError("usage", "the form is larger than 64 kB");
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString("utf8"));
}

const LOOPBACK = new Set(["127.0.0.1", "localhost", "[::1]"]);

/** The origin this request reached: the configured public URL, else scheme + Host (browsers send the Host they used). */
export function ownOrigin(req: IncomingMessage, publicUrl?: string): URL {
  if (publicUrl) return new URL(new URL(publicUrl).origin);
  const scheme = (req.socket as TLSSocket).encrypted ? "https" : "http";
  try {
    return new URL(`${scheme}://${req.headers.host ?? "invalid.invalid"}`);
  } catch {
    throw new JitError("usage", "the request's Host header is not a host name");
  }
}

/** Cookies are Secure everywhere except plain http on loopback (`jit broker dev`), where browsers could not send them back. */
export function cookieSecure(origin: URL): boolean {
  return origin.protocol === "https:" || !LOOPBACK.has(origin.hostname);
}

/** Serialises one Set-Cookie header value. */
export function cookie(name: string, value: string, opts: { secure: boolean; sameSite: "Strict" | "Lax"; path: string; maxAgeSeconds?: number }): string {
  return [
    `${name}=${value}`, `Path=${opts.path}`, "HttpOnly", `SameSite=${opts.sameSite}`,
    ...(opts.secure ? ["Secure"] : []), ...(opts.maxAgeSeconds !== undefined ? [`Max-Age=${opts.maxAgeSeconds}`] : []),
  ].join("; ");
}
