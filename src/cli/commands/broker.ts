/** `jit broker dev`: the embedded broker, until interrupted. */
import { JitError } from "../../errors.ts";
import { defaultDevDataDir, startDevBroker } from "../../broker/dev.ts";
import { DEMO_USERS } from "../../idp/demo-users.ts";
import type { CliContext } from "../context.ts";
import { jitName, printJson } from "./util.ts";

/** Parses a TCP port flag. */
export function parsePort(raw: string, flag = "--port"): number {
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n > 65535) throw new JitError("usage", `${flag} must be a number from 0 to 65535, got "${raw}"`);
  return n;
}

/** Runs the dev broker and prints what to run next. */
export async function brokerDevCommand(ctx: CliContext, opts: { port: string; dataDir?: string; metricsPort?: string }): Promise<void> {
  const { io } = ctx;
  const port = parsePort(opts.port);
  const metricsPort = opts.metricsPort === undefined || opts.metricsPort === "off" ? undefined : parsePort(opts.metricsPort, "--metrics-port");
  const dataDir = opts.dataDir ?? defaultDevDataDir(io.env);
  const broker = await startDevBroker({
    port, dataDir, version: ctx.version, log: (line) => io.err(`[broker] ${line}`),
    metrics: opts.metricsPort === "off" ? undefined : { port: metricsPort ?? 0 },
  });
  if (ctx.flags.json) {
    printJson(ctx, { url: broker.url, issuer: broker.issuer, data_dir: dataDir, metrics_url: broker.metricsUrl, users: DEMO_USERS.map((u) => ({ username: u.username, groups: u.groups })) });
  } else {
    const b = io.color.bold;
    io.out(`jit broker (dev mode) listening on ${b(broker.url)}`);
    io.out(`  identity provider: ${broker.issuer} (embedded, demo users only)`);
    io.out(`  warehouse:         DuckDB demo data (demo.sales, demo.hr)`);
    io.out(`  store:             ${dataDir}/jit.db`);
    if (broker.metricsUrl) io.out(`  metrics:           ${broker.metricsUrl} (Prometheus, loopback only)`);
    io.out("");
    io.out("Demo users (password = user name):");
    for (const u of DEMO_USERS) io.out(`  ${u.username.padEnd(6)} ${u.groups.join(", ")}`);
    io.out("");
    const jit = jitName(io.env);
    io.out("In another terminal:");
    io.out(`  ${jit} login --broker ${broker.url} --no-browser   # prints a code; sign in as alice / alice`);
    io.out("  # no browser? confirm the code from the shell (dev mode only):");
    io.out(`  curl -s -X POST ${broker.url}/dev/device/approve -H 'content-type: application/json' \\`);
    io.out(`    -d '{"user_code": "CODE", "username": "alice", "password": "alice"}'`);
    io.out(`  ${jit} request demo.sales --reason "weekly report"`);
    io.out(`  ${jit} query "SELECT full_name, ssn, card_number, email FROM demo.sales.customers LIMIT 5"`);
    io.out("  (no desktop keychain, e.g. a server or container? export JIT_CREDENTIAL_STORE=file first)");
    io.out("");
    io.out("Press Ctrl-C to stop.");
  }
  const signal = await io.untilShutdown();
  io.err(`${signal}: stopping the broker (in-flight requests finish first)`);
  await broker.shutdown();
}

/** Runs the production broker from broker.yaml until interrupted; SIGHUP reloads the policy. */
export async function brokerServeCommand(ctx: CliContext, opts: { config: string; check?: boolean }): Promise<void> {
  const { io } = ctx;
  const { loadBrokerConfig } = await import("../../broker/config.ts");
  const cfg = await loadBrokerConfig(opts.config);
  if (opts.check) {
    const { checkBrokerFiles } = await import("../../broker/check.ts");
    const checked = await checkBrokerFiles(cfg);
    if (ctx.flags.json) printJson(ctx, { ok: true, config: cfg.file, checked });
    else {
      io.out(`${cfg.file}: OK`);
      for (const c of checked) io.out(`  ${c}`);
    }
    return;
  }
  const { startBroker } = await import("../../broker/serve.ts");
  const log = (line: string) => io.err(`${new Date().toISOString()} ${line}`);
  const broker = await startBroker(cfg, { version: ctx.version, log });
  const stopHangup = io.onHangup(() => broker.reloadPolicy("SIGHUP"));
  if (ctx.flags.json) printJson(ctx, { url: broker.url, metrics_url: broker.metricsUrl, issuer: cfg.identity.issuer, store: cfg.store.kind, warehouse: cfg.warehouse.kind });
  else {
    io.out(`jit broker listening on ${broker.url} (issuer ${cfg.identity.issuer}, ${cfg.store.kind} store, ${cfg.warehouse.kind} warehouse)`);
    io.out(broker.metricsUrl ? `  metrics: ${broker.metricsUrl}` : "  metrics: off (metrics_listen: off)");
  }
  const signal = await io.untilShutdown();
  log(`${signal}: draining (up to ${Math.round(cfg.shutdownGraceMs / 1000)} s for in-flight requests), then stopping`);
  stopHangup();
  const report = await broker.shutdown();
  log(JSON.stringify({ msg: "stopped", ...report }));
}
