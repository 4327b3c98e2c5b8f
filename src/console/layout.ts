/** The console's page frame: head with the hashed stylesheet and script, the navigation, and the signed-in person. */
import type { Principal } from "../policy/types.ts";
import { html, type Html } from "./html.ts";
import { SCRIPT, STYLESHEET } from "./assets.ts";

export type Section = "inbox" | "mine" | "audit" | "policy" | "none";

export interface Viewer {
  principal: Principal;
  csrf: string;
  auditor: boolean;
}

/** A whole console page. */
export function page(title: string, body: Html, opts: { viewer?: Viewer; section?: Section; refresh?: string } = {}): Html {
  const v = opts.viewer;
  const link = (href: string, s: Section, label: string) =>
    html`<li><a href="${href}"${opts.section === s ? html` aria-current="page"` : ""}>${label}</a></li>`;
  const nav = v
    ? html`<nav aria-label="Console"><ul>${link("/console/", "inbox", "Inbox")}${link("/console/mine", "mine", "My requests")}${v.auditor ? link("/console/audit", "audit", "Audit") : ""}${link("/console/policy", "policy", "Policy")}</ul></nav>
<div class="who"><span>${v.principal.username} <span class="muted">(${v.principal.groups.join(", ") || "no groups"})</span></span>
<form method="post" action="/console/logout"><input type="hidden" name="csrf" value="${v.csrf}"><button type="submit">Sign out</button></form></div>`
    : "";
  return html`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
${opts.refresh ? html`<meta http-equiv="refresh" content="0;url=${opts.refresh}">` : ""}
<title>${title} · jit console</title><link rel="stylesheet" href="${STYLESHEET.path}"><script src="${SCRIPT.path}" defer></script></head>
<body><a class="skip" href="#main">Skip to content</a>
<header><a class="brand" href="/console/">jit console</a>${nav}</header>
<main id="main">${body}</main></body></html>`;
}

/** Relative time such as "5 min ago" or "in 2 h". */
export function relative(ms: number, now: number): string {
  const d = Math.round((ms - now) / 1000);
  const a = Math.abs(d);
  if (a < 2) return "just now";
  const t = a < 60 ? `${a} s` : a < 3600 ? `${Math.round(a / 60)} min` : a < 86400 ? `${Math.round(a / 3600)} h` : `${Math.round(a / 86400)} d`;
  return d < 0 ? `${t} ago` : `in ${t}`;
}

/** A command line the reader can copy into a terminal. */
export const command = (text: string) => html`<pre class="cmd"><code>${text}</code></pre>`;

/** Quotes a shell argument for the commands the console shows. */
export function shellQuote(s: string): string {
  return /^[A-Za-z0-9_./:@=,-]+$/.test(s) ? s : `'${s.replaceAll("'", `'"'"'`)}'`;
}
