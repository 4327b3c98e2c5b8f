import type { IncomingMessage, ServerResponse } from "node:http";
import type Provider from "oidc-provider";
import type { InteractionDetails } from "oidc-provider";
import { checkDemoCredentials } from "./demo-users.ts";
import * as pages from "./pages.ts";

const MAX_FORM_BYTES = 8 * 1024;

function sendHtml(res: ServerResponse, status: number, html: string): void {
  res.writeHead(status, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" }).end(html);
}

async function readForm(req: IncomingMessage): Promise<URLSearchParams | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_FORM_BYTES) return undefined;
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString("utf8"));
}

/** The jit CLI is first-party: grant whatever the consent prompt found missing, without asking. */
async function grantConsent(provider: Provider, details: InteractionDetails): Promise<string> {
  const accountId = details.session?.accountId;
  const clientId = details.params.client_id;
  if (!accountId || !clientId) throw new Error("consent without a signed-in account");
  const existing = details.grantId ? await provider.Grant.find(details.grantId) : undefined;
  const grant = existing ?? new provider.Grant({ accountId, clientId });
  const missing = details.prompt.details as {
    missingOIDCScope?: string[];
    missingOIDCClaims?: string[];
    missingResourceScopes?: Record<string, string[]>;
  };
  if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(" "));
  if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
  for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {})) {
    grant.addResourceScope(indicator, scopes.join(" "));
  }
  return grant.save();
}

/** Serves `<mount>/interaction/:uid`: the sign-in form (GET), its submission (POST), and automatic consent. */
export async function handleInteraction(provider: Provider, req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
  const uid = path.slice("/interaction/".length).split(/[/?]/)[0] ?? "";
  let details: InteractionDetails;
  try {
    details = await provider.interactionDetails(req, res);
  } catch {
    sendHtml(res, 400, pages.errorPage("This sign-in page has expired or was opened in another browser."));
    return;
  }
  if (details.uid !== uid) {
    sendHtml(res, 400, pages.errorPage("This sign-in page does not belong to the current sign-in."));
    return;
  }
  const action = (req.url ?? "").split("?")[0] ?? "";

  if (details.prompt.name === "consent") {
    const grantId = await grantConsent(provider, details);
    await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
    return;
  }
  if (details.prompt.name !== "login") {
    sendHtml(res, 400, pages.errorPage(`Unsupported sign-in step: ${details.prompt.name}.`));
    return;
  }
  if (req.method === "GET") {
    sendHtml(res, 200, pages.loginPage(action));
    return;
  }
  if (req.method !== "POST") {
    res.writeHead(405, { allow: "GET, POST" }).end();
    return;
  }

  const form = await readForm(req);
  if (!form) {
    sendHtml(res, 413, pages.errorPage("The form was too large."));
    return;
  }
  if (form.get("abort")) {
    await provider.interactionFinished(
      req, res,
      { error: "access_denied", error_description: "End-User aborted interaction" },
      { mergeWithLastSubmission: false },
    );
    return;
  }
  const username = form.get("username") ?? "";
  const user = checkDemoCredentials(username, form.get("password") ?? "");
  if (!user) {
    sendHtml(res, 401, pages.loginPage(action, { error: "Wrong user name or password.", username }));
    return;
  }
  await provider.interactionFinished(
    req, res,
    { login: { accountId: user.username, amr: ["pwd"] } },
    { mergeWithLastSubmission: false },
  );
}
