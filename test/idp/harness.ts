// Test helpers: the dev IdP mounted on a loopback node:http server exactly as `jit broker dev` mounts it,
// and a tiny cookie-keeping "browser" to walk its HTML pages.
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { createDevIdp } from "../../src/idp/dev-idp.ts";
import type { DevIdp } from "../../src/idp/dev-idp.ts";

export const CLIENT_ID = "jit-cli";
export const SCOPES = "openid profile email groups offline_access";

export interface RunningIdp {
  issuer: string;
  idp: DevIdp;
  close(): Promise<void>;
}

/** Starts a server on 127.0.0.1:0 whose `/oidc...` requests go to the dev IdP, and `POST /dev/device/approve` to approveDevice. */
export async function startDevIdp(opts: { pollIntervalSeconds?: number; idTokenTtlSeconds?: number } = {}): Promise<RunningIdp> {
  let idp: DevIdp | undefined;
  const server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0] ?? "/";
    if (idp && (path === "/oidc" || path.startsWith("/oidc/"))) return idp.handle(req, res);
    if (idp && req.method === "POST" && path === "/dev/device/approve") {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        idp!.approveDevice(JSON.parse(Buffer.concat(chunks).toString()))
          .then((r) => res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(r)))
          .catch((e: { code?: string; message?: string }) => res.writeHead(400).end(JSON.stringify({ error: { code: e.code, message: e.message } })));
      });
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}/oidc`;
  idp = await createDevIdp({ issuer, pollIntervalSeconds: opts.pollIntervalSeconds ?? 1, idTokenTtlSeconds: opts.idTokenTtlSeconds });
  return {
    issuer,
    idp,
    async close() {
      await idp!.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export interface Page {
  status: number;
  url: string;
  html: string;
}

/** A cookie jar plus redirect following; enough to drive server-rendered forms like a browser without JavaScript. */
export function browser() {
  const jar = new Map<string, string>();
  const keep = (res: Response) => {
    for (const line of res.headers.getSetCookie()) {
      const [pair = "", ...attrs] = line.split(";");
      const eq = pair.indexOf("=");
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const expired = attrs.some((a) => /^\s*expires=.*1970/i.test(a) || /^\s*max-age=0\b/i.test(a));
      if (expired || value === "") jar.delete(name);
      else jar.set(name, value);
    }
  };
  const cookie = () => [...jar].map(([k, v]) => `${k}=${v}`).join("; ");

  async function request(url: string, init: { method?: string; form?: Record<string, string> } = {}): Promise<Page> {
    let current = url;
    let method = init.method ?? (init.form ? "POST" : "GET");
    let body: URLSearchParams | undefined = init.form ? new URLSearchParams(init.form) : undefined;
    for (let hops = 0; hops < 10; hops++) {
      const res = await fetch(current, { method, body, redirect: "manual", headers: { cookie: cookie() } });
      keep(res);
      const location = res.headers.get("location");
      if (res.status >= 300 && res.status < 400 && location) {
        await res.arrayBuffer();
        current = new URL(location, current).href;
        method = "GET";
        body = undefined;
        continue;
      }
      return { status: res.status, url: current, html: await res.text() };
    }
    throw new Error("too many redirects");
  }

  /** Submits the page's form (the one with `formId`, or the first), adding or overriding fields. */
  function submit(page: Page, fields: Record<string, string> = {}, formId?: string): Promise<Page> {
    const forms = [...page.html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/g)];
    const form = formId ? forms.find((f) => f[1]!.includes(`id="${formId}"`)) : forms[0];
    if (!form) throw new Error(`no form${formId ? ` ${formId}` : ""} on ${page.url}: ${page.html.slice(0, 300)}`);
    const action = /action="([^"]*)"/.exec(form[1]!)?.[1] ?? page.url;
    const values: Record<string, string> = {};
    for (const input of form[2]!.matchAll(/<input\b[^>]*type="hidden"[^>]*>/g)) {
      const name = /name="([^"]*)"/.exec(input[0])?.[1];
      const value = /value="([^"]*)"/.exec(input[0])?.[1] ?? "";
      if (name) values[name] = value.replace(/&#(\d+);/g, (_, n: string) => String.fromCharCode(Number(n))).replace(/&amp;/g, "&");
    }
    return request(new URL(action.replace(/&amp;/g, "&"), page.url).href, { form: { ...values, ...fields } });
  }

  return { get: (url: string) => request(url), submit };
}
