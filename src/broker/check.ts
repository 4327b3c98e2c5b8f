/**
 * `jit broker serve --check`: everything start-up would refuse, found without starting. broker.yaml is already
 * validated (loadBrokerConfig); this reads each file and secret it names, as startBroker would: the policy (line and
 * column of the first problem), the masking key (size, mode), the TLS pair (mode, that the key fits the
 * certificate), the BigQuery key file (mode, JSON), the store's location or URL. Every problem at once, exit 2.
 */
import { accessSync, constants, existsSync, readFileSync } from "node:fs";
import { dirname } from "node:path";
import { createSecureContext } from "node:tls";
import { JitError } from "../errors.ts";
import { loadPolicyFile } from "../policy/load.ts";
import { probeWritable } from "../store/failure.ts";
import type { BrokerConfig } from "./config.ts";
import { checkPrivateFile, readHashKey } from "./serve.ts";

const why = (err: unknown) => (err instanceof JitError ? err.message + (err.hint ? ` (${err.hint})` : "") : err instanceof Error ? err.message.split("\n")[0]! : String(err));

/** Checks the files and secrets `cfg` names; resolves with one line per thing checked, or throws one usage error naming every problem. */
export async function checkBrokerFiles(cfg: BrokerConfig): Promise<string[]> {
  const ok: string[] = [];
  const problems: string[] = [];
  const step = (what: string, fn: () => string) => {
    try {
      ok.push(`${what}: ${fn()}`);
    } catch (err) {
      problems.push(`${what}: ${why(err)}`);
    }
  };
  step("policy", () => {
    const p = loadPolicyFile(cfg.policyFile);
    return `${cfg.policyFile} (${p.datasets.length} dataset rule${p.datasets.length === 1 ? "" : "s"})`;
  });
  step("masking.hash_key_file", () => `${cfg.hashKeyFile} (${readHashKey(cfg.hashKeyFile).length} bytes, mode 0600)`);
  if (cfg.tls) {
    const tls = cfg.tls;
    step("tls", () => {
      checkPrivateFile(tls.keyFile, "tls.key_file");
      let cert: Buffer, key: Buffer;
      try {
        cert = readFileSync(tls.certFile);
        key = readFileSync(tls.keyFile);
      } catch (err) {
        throw new JitError("usage", `cannot read ${(err as NodeJS.ErrnoException).path}: ${(err as NodeJS.ErrnoException).code}`);
      }
      try {
        createSecureContext({ cert, key });
      } catch (err) {
        throw new JitError("usage", `the certificate ${tls.certFile} and key ${tls.keyFile} do not make a TLS pair: ${(err as Error).message}`);
      }
      return `${tls.certFile} with ${tls.keyFile}`;
    });
  }
  if (cfg.warehouse.kind === "bigquery") {
    const bq = cfg.warehouse.bigquery;
    if (bq.keyFile) {
      const file = bq.keyFile;
      step("warehouse.bigquery.key_file", () => {
        checkPrivateFile(file, "warehouse.bigquery.key_file");
        let doc: { type?: unknown };
        try {
          doc = JSON.parse(readFileSync(file, "utf8")) as { type?: unknown };
        } catch (err) {
          throw new JitError("usage", `${file} is not a Google credential JSON file: ${(err as Error).message}`);
        }
        if (typeof doc?.type !== "string") throw new JitError("usage", `${file} has no "type" (expected a Google credential such as service_account)`);
        return `${file} (${doc.type})`;
      });
    } else ok.push(`warehouse: BigQuery project ${bq.projectId} with Application Default Credentials`);
  } else ok.push("warehouse: the DuckDB demo warehouse");
  if (cfg.store.kind === "sqlite") {
    const path = cfg.store.path;
    step("store.sqlite", () => {
      // The file and its directories are created on first start: the nearest existing directory must take writes.
      if (existsSync(path)) {
        const blocked = probeWritable(path);
        if (blocked) throw new JitError("usage", `${path}: ${blocked.code}: ${blocked.reason}`);
        return `${path} (exists)`;
      }
      let dir = dirname(path);
      while (!existsSync(dir) && dirname(dir) !== dir) dir = dirname(dir);
      try {
        accessSync(dir, constants.W_OK);
      } catch (err) {
        throw new JitError("usage", `${path} cannot be created: ${dir} is not writable (${(err as NodeJS.ErrnoException).code})`);
      }
      return `${path} (created on first start)`;
    });
  } else {
    const url = cfg.store.url;
    step("store (PostgreSQL URL)", () => {
      let u: URL;
      try {
        u = new URL(url);
      } catch {
        throw new JitError("usage", "the variable does not hold a URL (postgres://user:password@host:5432/db)");
      }
      if (u.protocol !== "postgres:" && u.protocol !== "postgresql:") throw new JitError("usage", `the URL must start with postgres:// (it starts with ${u.protocol}//)`);
      // The URL holds a password: only its host and database are shown.
      return `PostgreSQL at ${u.hostname}${u.port ? `:${u.port}` : ""}${u.pathname}`;
    });
  }
  if (problems.length > 0) {
    throw new JitError("usage", `${cfg.file}: ${problems.length} problem${problems.length === 1 ? "" : "s"} with the files it names:\n${problems.map((p) => `  ${p}`).join("\n")}`, {
      hint: "fix them, then run jit broker serve --check again",
      details: { problems },
    });
  }
  return ok;
}
