/**
 * The console's only stylesheet and script, served by the broker itself (no CDN) under content-hashed names so
 * the CSP can stay `'self'` with no inline code, and browsers may cache them for good.
 */
import { createHash } from "node:crypto";

const CSS = `
:root{--fg:#1f2328;--muted:#57606a;--bg:#f6f8fa;--card:#fff;--line:#d0d7de;--accent:#0b5cd5;--ok:#1a7f37;--bad:#b42318;--warn:#8a5a00;
font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg);line-height:1.45}
*{box-sizing:border-box}body{margin:0}
a{color:var(--accent)}a:focus-visible,button:focus-visible,input:focus-visible,select:focus-visible,textarea:focus-visible,summary:focus-visible{outline:3px solid #f59e0b;outline-offset:2px}
.skip{position:absolute;left:-999px}.skip:focus{left:8px;top:8px;background:#fff;padding:6px;z-index:9}
header{background:#24292f;color:#fff;padding:.5rem 1rem;display:flex;flex-wrap:wrap;gap:.25rem 1rem;align-items:center}
header a{color:#fff;text-decoration:none;padding:.35rem .2rem}header a[aria-current=page]{border-bottom:2px solid #f59e0b}
header .brand{font-weight:700;margin-right:.5rem}header .who{margin-left:auto;font-size:.9rem;display:flex;gap:.5rem;align-items:center}
header .muted{color:#d0d7de}header form{margin:0}header button{background:none;border:1px solid #8c959f;color:#fff;border-radius:6px;padding:.2rem .6rem;cursor:pointer;font:inherit}
nav ul{list-style:none;margin:0;padding:0;display:flex;flex-wrap:wrap;gap:.25rem 1rem}
main{max-width:72rem;margin:0 auto;padding:1rem}
h1{font-size:1.4rem;margin:.25rem 0 1rem}h2{font-size:1.1rem;margin:1.25rem 0 .5rem}
.card{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:1rem;margin:0 0 1rem;overflow-wrap:anywhere}
.card h2{margin-top:0}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem;margin:.5rem 0}dl.facts dt{color:var(--muted)}dl.facts dd{margin:0}
.muted{color:var(--muted)}.ok{color:var(--ok)}.bad{color:var(--bad)}.warn{color:var(--warn)}
.badge{display:inline-block;border-radius:999px;padding:0 .55rem;font-size:.85rem;border:1px solid currentColor}
code{overflow-wrap:anywhere}pre,code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.9rem}
pre{background:#f6f8fa;border:1px solid var(--line);border-radius:6px;padding:.75rem;overflow-x:auto;white-space:pre-wrap;word-break:break-word}
pre.cmd{background:#24292f;color:#f6f8fa;border:0}
.sql .k{color:#8250df;font-weight:600}.sql .s{color:#0a3069}.sql .n{color:#0550ae}.sql .c{color:#57606a;font-style:italic}.sql .p{color:#57606a}
form.decide{display:grid;gap:.5rem;margin-top:.75rem}
label{font-weight:600;font-size:.95rem}
input[type=text],input[type=search],input[type=datetime-local],select,textarea{width:100%;padding:.5rem;font:inherit;border:1px solid #8c959f;border-radius:6px;background:#fff}
textarea{min-height:4rem}
button.primary,button.danger,button.plain{font:inherit;padding:.55rem 1rem;border-radius:6px;border:1px solid transparent;cursor:pointer;min-height:44px}
button.primary{background:#1a7f37;color:#fff}button.danger{background:#b42318;color:#fff}button.plain{background:#fff;border-color:#8c959f;color:var(--fg)}
.actions{display:flex;flex-wrap:wrap;gap:.5rem}
.grid2{display:grid;gap:1rem}@media(min-width:48rem){.grid2{grid-template-columns:1fr 1fr}}
.filters{display:grid;gap:.5rem;grid-template-columns:repeat(auto-fill,minmax(11rem,1fr));align-items:end}
table{border-collapse:collapse;width:100%;font-size:.92rem}th,td{text-align:left;padding:.4rem .5rem;border-bottom:1px solid var(--line);vertical-align:top}
.scroll{overflow-x:auto}th{white-space:nowrap}table.audit td:nth-child(-n+5){white-space:nowrap}table.audit td:last-child{min-width:16rem}caption{text-align:left}
.notice{overflow-wrap:anywhere;border-left:4px solid var(--accent);background:#ddf4ff;padding:.6rem .8rem;border-radius:4px;margin:0 0 1rem}
.notice.bad{border-color:var(--bad);background:#ffebe9;color:var(--fg)}.notice.ok{border-color:var(--ok);background:#dafbe1;color:var(--fg)}
.why{border-left:4px solid var(--warn);background:#fff8c5;padding:.5rem .75rem;border-radius:4px}
.center{max-width:26rem;margin:4rem auto;text-align:center}
a.button{display:inline-block;background:var(--accent);color:#fff;padding:.6rem 1.2rem;border-radius:6px;text-decoration:none;min-height:44px}
@media(max-width:30rem){header .who{margin-left:0;width:100%}dl.facts{grid-template-columns:1fr}dl.facts dt{margin-top:.3rem}main{padding:.6rem}}
`;

/* The one script: keeps a live region (the inbox, a request) current by polling a cheap fingerprint, and only then
   fetching the page again; with scripts off every page still works by reload. */
const JS = `"use strict";
(function () {
  var live = document.querySelector("[data-live]");
  if (!live) return;
  var every = Number(live.getAttribute("data-every")) || 2000;
  var busy = false;
  function tick() {
    if (busy || document.hidden) return;
    busy = true;
    fetch(live.getAttribute("data-live"), { headers: { accept: "application/json" }, credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (j) {
        if (!j || j.v === live.getAttribute("data-version")) return;
        return fetch(location.href, { credentials: "same-origin" }).then(function (r) { return r.text(); }).then(function (text) {
          var doc = new DOMParser().parseFromString(text, "text/html");
          var fresh = doc.querySelector("[data-live]");
          if (!fresh) return;
          var focused = document.activeElement && live.contains(document.activeElement);
          if (focused) return; // never pull a form away from someone typing in it
          live.innerHTML = fresh.innerHTML;
          live.setAttribute("data-version", fresh.getAttribute("data-version") || "");
          var say = document.getElementById("live-status");
          if (say) say.textContent = "Updated " + new Date().toLocaleTimeString();
        });
      })
      .catch(function () {})
      .then(function () { busy = false; });
  }
  setInterval(tick, every);
})();
`;

const digest = (s: string) => createHash("sha256").update(s).digest("hex").slice(0, 16);

/** A static asset: its body, content type, and the hashed path pages link to. */
export interface Asset {
  path: string;
  type: string;
  body: Buffer;
}

export const STYLESHEET: Asset = { path: `/console/assets/console.${digest(CSS)}.css`, type: "text/css; charset=utf-8", body: Buffer.from(CSS) };
export const SCRIPT: Asset = { path: `/console/assets/console.${digest(JS)}.js`, type: "text/javascript; charset=utf-8", body: Buffer.from(JS) };

/** The asset served at `path`, if any. */
export function findAsset(path: string): Asset | undefined {
  return [STYLESHEET, SCRIPT].find((a) => a.path === path);
}
