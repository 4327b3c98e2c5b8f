/** A raw HTTP client for broker tests: full control over headers (fetch may not set Host), status, headers and body back. */
import { request as httpRequest } from "node:http";

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: Record<string, any>;
}

/** One HTTP request with full control over headers (fetch may not set Host); resolves with status, headers and body. */
export function call(base: string, method: string, path: string, opts: { token?: string; body?: unknown; raw?: string | Buffer; headers?: Record<string, string> } = {}): Promise<Reply> {
  const u = new URL(base);
  const payload = opts.raw ?? (opts.body === undefined ? undefined : JSON.stringify(opts.body));
  const headers: Record<string, string> = { ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}) };
  if (payload !== undefined && opts.raw === undefined) headers["content-type"] = "application/json";
  if (payload !== undefined) headers["content-length"] = String(Buffer.byteLength(payload));
  Object.assign(headers, opts.headers);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: u.hostname, port: u.port, method, path, headers, agent: false }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (d) => (text += d));
      res.on("end", () => {
        let json: Record<string, any> = {};
        try { json = text ? JSON.parse(text) : {}; } catch { /* not JSON */ }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
      });
    });
    req.setTimeout(20_000, () => req.destroy(new Error(`${method} ${path} timed out`)));
    req.on("error", reject);
    req.end(payload);
  });
}
