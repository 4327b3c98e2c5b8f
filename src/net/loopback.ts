/** Loopback: the only place jit accepts plain http (the dev broker, the dev IdP, local test servers). */

/** True for hosts whose traffic never leaves the machine: localhost, 127.0.0.0/8, [::1]. */
export function isLoopbackHost(hostname: string): boolean {
  // WHATWG URL parsing has already canonicalised IPv4 forms (127.1, 0x7f.1) and IPv6 ([0:0::1] → [::1]).
  return hostname === "localhost" || hostname === "[::1]" || /^127(\.\d{1,3}){3}$/.test(hostname);
}

/** True for an http:// URL to a loopback host. */
export function isLoopbackHttp(url: string): boolean {
  const u = new URL(url);
  return u.protocol === "http:" && isLoopbackHost(u.hostname);
}
