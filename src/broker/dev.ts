/** `jit broker dev`: the broker with everything embedded on loopback: dev IdP, DuckDB demo warehouse, demo policy, SQLite store. */
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Server } from "node:http";
import { createBrokerHandler, listen } from "./server.ts";
import type { BrokerDeps } from "./context.ts";
import { loadPolicyFile } from "../policy/load.ts";
import { openSqliteStore } from "../store/sqlite.ts";
import { createTokenVerifier } from "./verify-token.ts";

export const DEV_CLIENT_ID = "jit-cli";
export const DEV_SCOPES = "openid profile email groups offline_access";

/** Where the demo policy ships. */
export const DEMO_POLICY_PATH = fileURLToPath(new URL("../../data/demo/policy.yaml", import.meta.url));

/** The default data dir of `jit broker dev`. */
export function defaultDevDataDir(env: NodeJS.ProcessEnv): string {
  return join(env.XDG_STATE_HOME || join(homedir(), ".local", "state"), "jit", "dev");
}

/** Reads the broker's masking key from the data dir, creating it (0600) on first start. */
export function loadOrCreateKey(dataDir: string): Buffer {
  const path = join(dataDir, "hash.key");
  if (!existsSync(path)) writeFileSync(path, randomBytes(32).toString("hex"), { mode: 0o600, flag: "wx" });
  chmodSync(path, 0o600);
  return Buffer.from(readFileSync(path, "utf8").trim(), "hex");
}

export interface DevBroker {
  url: string;
  issuer: string;
  dataDir: string;
  server: Server;
  deps: BrokerDeps;
  close(): Promise<void>;
}

/** Starts the dev broker on 127.0.0.1:port (0 picks a free port). */
export async function startDevBroker(opts: { port: number; dataDir: string; log?: (line: string) => void; version?: string; now?: () => number; pollIntervalSeconds?: number }): Promise<DevBroker> {
  const log = opts.log ?? (() => {});
  mkdirSync(opts.dataDir, { recursive: true, mode: 0o700 });
  let handler: ((req: import("node:http").IncomingMessage, res: import("node:http").ServerResponse) => Promise<void>) | undefined;
  // Listen first: the issuer URL names the port, and port 0 is only known once bound.
  const { server, url } = await listen(async (req, res) => {
    if (handler) return handler(req, res);
    res.writeHead(503).end();
  }, "127.0.0.1", opts.port);
  try {
    const issuer = `${url}/oidc`;
    const [{ createDevIdp }, { openDemoWarehouse }] = await Promise.all([import("../idp/dev-idp.ts"), import("../warehouse/duckdb.ts")]);
    const policy = loadPolicyFile(DEMO_POLICY_PATH);
    const [idp, warehouse] = await Promise.all([
      createDevIdp({ issuer, clientId: DEV_CLIENT_ID, pollIntervalSeconds: opts.pollIntervalSeconds ?? 1 }),
      openDemoWarehouse(),
    ]);
    const store = openSqliteStore(join(opts.dataDir, "jit.db"));
    const deps: BrokerDeps = {
      policy: () => policy,
      store,
      warehouse,
      // Tokens are checked against the real clock; `now` moves only the grant clock (tests of expiry).
      verifyToken: createTokenVerifier({ issuer, audience: DEV_CLIENT_ID, groupsClaim: policy.groupsClaim }),
      loginSettings: { issuer, client_id: DEV_CLIENT_ID, scopes: DEV_SCOPES, audience: DEV_CLIENT_ID },
      now: opts.now ?? Date.now,
      hashKey: loadOrCreateKey(opts.dataDir),
      mode: "dev",
      version: opts.version ?? "dev",
      log,
    };
    handler = createBrokerHandler(deps, { handleOidc: (req, res) => idp.handle(req, res), approveDevice: (input) => idp.approveDevice(input) });
    return {
      url, issuer, dataDir: opts.dataDir, server, deps,
      async close() {
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
        await Promise.allSettled([idp.close(), warehouse.close(), store.close()]);
      },
    };
  } catch (err) {
    server.close();
    throw err;
  }
}
