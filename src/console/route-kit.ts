/** The shape of a console route (routes.ts, audit-routes.ts) and the two ways every one of them answers with a page. */
import type { ServerResponse } from "node:http";
import type { BrokerDeps, Caller } from "../broker/context.ts";
import type { Decidable, Decided, Refused } from "../broker/pipeline.ts";
import { sendPage } from "./edge.ts";
import { html, type Html } from "./html.ts";
import { page, type Section, type Viewer } from "./layout.ts";

/** One console request once the session (and, for a form, its CSRF token and Origin) has been checked. */
export interface ConsoleInput {
  deps: BrokerDeps;
  caller: Caller;
  viewer: Viewer;
  params: Record<string, string>;
  query: URLSearchParams;
  /** The posted form; null on a GET. */
  form: URLSearchParams | null;
  res: ServerResponse;
  /** Ends this console session (on every replica: the row goes) and returns the Set-Cookie value that clears its cookie. */
  endSession(): Promise<string>;
  /** Set when a refused or failed form re-renders the page it came from. */
  notice?: Html;
  status?: number;
}

/** One declared console page or form. */
export interface ConsoleRoute extends Decidable<ConsoleInput> {
  method: "GET" | "POST";
  /** `:id` is a request or grant id, `:seq` an audit record's. */
  path: string;
  /** Runs once the decision is allowed and recorded. */
  render(i: ConsoleInput, d: Decided): Promise<void> | void;
  /** Answers a refusal (already recorded): "missing" ones as nothing there (404), never revealing that it exists. */
  refused(i: ConsoleInput, err: Refused): Promise<void> | void;
}

/** A page in the console's frame for the signed-in viewer. */
export function send(i: ConsoleInput, status: number, title: string, body: Html, section: Section): void {
  sendPage(i.res, status, page(title, body, { viewer: i.viewer, section }));
}

/** A short page that says what went wrong and leads back. */
export function errorPage(res: ServerResponse, status: number, title: string, message: Html | string, viewer?: Viewer): void {
  sendPage(res, status, page(title, html`<div class="center card"><h1>${title}</h1><p>${message}</p><p><a href="/console/">Back to the console</a></p></div>`, { viewer }));
}
