/** The console's audit pages (auditors and admins): the filtered list, a record, its replay, and chain verification. */
import { JitError } from "../errors.ts";
import type { Resource } from "../policy/authorize.ts";
import { auditPage, findReplay, parseAnchor, verifyAudit } from "./audit-data.ts";
import { html } from "./html.ts";
import { auditDetailBody, auditListBody, replayBody, verifyBody, type AuditFilters } from "./pages/audit.ts";
import { type ConsoleInput, type ConsoleRoute, errorPage, send } from "./route-kit.ts";

const auditRecordResource = async ({ deps, params }: ConsoleInput): Promise<Resource> =>
  ({ kind: "audit_record", id: params.seq!, record: /^[0-9]{1,16}$/.test(params.seq!) ? await deps.store.getAudit(params.seq!) : null });
const auditorsOnly = (i: ConsoleInput) =>
  errorPage(i.res, 403, "Auditors only", html`Only auditors and admins may read the whole audit log. <code>jit audit list --mine</code> shows your own records.`, i.viewer);
const VERIFY_DESCRIPTION = "Each anchor must be CHAIN:SEQ:HASH as printed by an earlier verify (or SEQ:HASH for chain 1): numbers, colons, and 64 hex digits, separated by commas.";

/** The audit part of the console's route table. */
export function consoleAuditRoutes(): ConsoleRoute[] {
  return [
    {
      method: "GET", path: "/console/audit", action: "audit.read", audit: "audit_read",
      resource: () => ({ kind: "audit_log", scope: "all" }),
      describe: ({ query }) => ({ what: "list", console: true, filters: Object.fromEntries(query) }),
      render: async (i) => {
        const q = i.query;
        const f: AuditFilters = { actor: q.get("user") ?? "", action: q.get("action") ?? "", outcome: q.get("outcome") ?? "", dataset: q.get("dataset") ?? "", since: q.get("since") ?? "", until: q.get("until") ?? "" };
        let found: Awaited<ReturnType<typeof auditPage>> = { records: [], next: null };
        let error: string | undefined;
        try {
          found = await auditPage(i.deps.store, f, Number(q.get("before") ?? 0));
        } catch (err) {
          if (!(err instanceof JitError) || err.code !== "usage") throw err;
          error = err.message;
        }
        send(i, error ? 400 : 200, "Audit log", auditListBody(f, found.records, found.next, error), "audit");
      },
      refused: auditorsOnly,
    },
    {
      // Before /console/audit/:seq, which would take "verify" for a record's number.
      method: "GET", path: "/console/audit/verify", action: "audit.verify", audit: "audit_read",
      resource: () => ({ kind: "audit_log", scope: "all" }),
      describe: ({ query }) => {
        const anchor = parseAnchor((query.get("anchor") ?? "").trim());
        return query.get("run") === "1" && anchor !== null ? { what: "verify", anchor, console: true } : { what: "verify-form", console: true };
      },
      render: async (i) => {
        const raw = (i.query.get("anchor") ?? "").trim();
        const anchor = parseAnchor(raw);
        const title = "Verify the audit chain";
        if (i.query.get("run") !== "1" || anchor === null) {
          const error = anchor === null ? VERIFY_DESCRIPTION : undefined;
          return send(i, error ? 400 : 200, title, verifyBody(raw, undefined, error), "audit");
        }
        send(i, 200, title, verifyBody(raw, await verifyAudit(i.deps.store, anchor)), "audit");
      },
      refused: auditorsOnly,
    },
    ...(["record", "replay"] as const).map((what): ConsoleRoute => ({
      method: "GET", path: what === "record" ? "/console/audit/:seq" : "/console/audit/:seq/replay", action: "audit.read", audit: "audit_read",
      resource: auditRecordResource,
      describe: ({ params }) => ({ what, id: params.seq, console: true }),
      render: async (i) => {
        const rec = (await i.deps.store.getAudit(i.params.seq!))!;
        const pair = await findReplay(i.deps.store, rec);
        if (what === "record") return send(i, 200, `Audit record ${rec.seq}`, auditDetailBody(rec, pair !== null), "audit");
        if (!pair) return errorPage(i.res, 404, "Nothing to replay", html`Audit record ${rec.seq} holds no query result.`, i.viewer);
        send(i, 200, `Replay of record ${rec.seq}`, replayBody(pair.query, pair.result), "audit");
      },
      refused: (i) => errorPage(i.res, 404, "No such record", html`There is no audit record ${i.params.seq!} that you may read.`, i.viewer),
    })),
  ];
}
