/**
 * The decision core of the front door, shared by the API (server.ts) and the web console (console/handler.ts):
 * load the resource, ask the pure `authorize()`, and put the decision on the audit log (refused with its refusal and
 * why, or allowed) before the caller's handler acts. A refusal is thrown as the error the API answers with, so both
 * doors refuse alike; nothing after the decision runs unless it was allowed and recorded (fail closed).
 */
import { JitError } from "../errors.ts";
import { type Action, type Authorization, authorize, type Resource } from "../policy/authorize.ts";
import { audit, type BrokerDeps, type Caller } from "./context.ts";
import { statusOf } from "./http.ts";
import { refusalError } from "./routes.ts";

/** What a decision needs to know of the route it is made for. */
export interface Decidable<I> {
  action: Action;
  /**
   * The audit record's action name for this route's decisions; null only for routes that are authorized but not
   * recorded (the console's live-update polls: see console/routes.ts for why).
   */
  audit: string | null;
  /** As on RouteDef: the handler records its own outcomes ("after-access": an "access" record first; "first": nothing here). */
  handlerAudits?: "after-access" | "first";
  /** The resource the action is performed on, loaded for the decision (an unknown id loads as null). */
  resource(i: I): Promise<Resource> | Resource;
  /** What the record says about the request beyond route, action and resource. */
  describe?(i: I): Record<string, unknown>;
}

/** An allowed decision and the id of the record that holds it (null when the handler writes the first record). */
export interface Decided {
  decision: Authorization & { allowed: true };
  resource: Resource;
  auditId: string | null;
}

/** A refusal: the API's error for it (404 for "missing", so ids cannot be probed), with the decision that refused. */
export class Refused extends JitError {
  readonly decision: Authorization & { allowed: false };
  constructor(decision: Authorization & { allowed: false }, action: Action) {
    const e = refusalError(decision, action);
    super(e.code, e.message, { hint: e.hint, details: e.details });
    this.decision = decision;
  }
}

/** Where a decision is made: the route's name for the record, and who hears of each record written (the log line). */
export interface DecisionContext {
  route: string;
  onAudit?(id: string): void;
}

type Recorder = (outcome: "ok" | "denied", name: string, details: Record<string, unknown>) => Promise<string>;

/** Writes records for one request under its route and action; each id goes to `onAudit`. */
export function recorder(deps: BrokerDeps, caller: Caller, action: Action, ctx: DecisionContext): Recorder {
  return async (outcome, name, details) => {
    const rec = await audit(deps, caller, name, outcome, { route: ctx.route, action, ...details });
    ctx.onAudit?.(rec.id);
    return rec.id;
  };
}

/** Records a malformed request (a 400 the caller caused) as refused under the route's audit name. */
export async function recordMalformed(record: Recorder, name: string | null, err: unknown): Promise<void> {
  if (name !== null && err instanceof JitError && err.code === "usage") {
    await record("denied", name, { refusal: "malformed", why: err.message, status: statusOf(err) });
  }
}

/** A resource as the audit record shows it: ids and names, never the loaded rows. */
export function resourceSummary(r: Resource): Record<string, unknown> {
  switch (r.kind) {
    case "request": return { kind: r.kind, id: r.id, found: r.request !== null };
    case "grant": return { kind: r.kind, id: r.id, found: r.grant !== null };
    case "audit_record": return { kind: r.kind, id: r.id, found: r.record !== null };
    case "datasets": return { kind: r.kind, datasets: r.datasets };
    case "explain": return { kind: r.kind, as: r.as, groups: r.groups };
    case "audit_log": return { kind: r.kind, scope: r.scope };
    default: return { kind: r.kind };
  }
}

/**
 * Decides `def.action` for `caller` on the resource `def` loads from `input`, and records the decision before
 * returning it. A refusal is recorded and thrown as `Refused`; a malformed input found while loading is recorded
 * and rethrown. Nothing is looked up here beyond the resource the decision is about.
 */
export async function decide<I>(deps: BrokerDeps, caller: Caller, def: Decidable<I>, input: I, ctx: DecisionContext): Promise<Decided> {
  const record = recorder(deps, caller, def.action, ctx);
  let resource: Resource;
  try {
    resource = await def.resource(input);
  } catch (err) {
    await recordMalformed(record, def.audit, err);
    throw err;
  }
  const decision = authorize(deps.policy(), caller.principal, def.action, resource);
  const details = { resource: resourceSummary(resource), rules: decision.rules, reason: decision.reason, ...def.describe?.(input) };
  if (!decision.allowed) {
    if (def.audit !== null) await record("denied", def.audit, { ...details, refusal: decision.refusal, why: decision.reason });
    throw new Refused(decision, def.action);
  }
  // The decision is on the audit log before the handler acts (fail closed: no record, no act).
  const auditId = def.audit === null || def.handlerAudits === "first" ? null
    : await record("ok", def.handlerAudits === "after-access" ? "access" : def.audit, details);
  return { decision, resource, auditId };
}
