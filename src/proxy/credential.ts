/**
 * The proxy's per-run credential: two random secrets and a Google `external_account` credential file.
 * Google's client libraries read the file (GOOGLE_APPLICATION_CREDENTIALS), send its subject token to
 * its `token_url` (the proxy's own STS endpoint) and get the proxy's access token back, with no Google
 * account involved. Only a process that can read the 0600 file gets in.
 */
import { randomBytes, timingSafeEqual } from "node:crypto";
import { mkdirSync, rmSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { writeFileAtomic } from "../auth/atomic-write.ts";

export interface ProxySecrets {
  /** What the credential file holds and the STS endpoint accepts. */
  subjectToken: string;
  /** What every BigQuery call must carry as its bearer token. */
  accessToken: string;
}

/** The JSON field of the credential file that carries the subject token (`credential_source.format`). */
const SUBJECT_FIELD = "jit_proxy_subject_token";

/** The path of the STS endpoint on the proxy. */
export const STS_PATH = "/sts/v1/token";

/** Mints the secrets of one run. */
export function mintSecrets(): ProxySecrets {
  return { subjectToken: randomBytes(32).toString("base64url"), accessToken: `jitproxy.${randomBytes(32).toString("base64url")}` };
}

/** Compares a presented secret with the expected one in constant time. */
export function sameSecret(presented: string | undefined, expected: string): boolean {
  if (presented === undefined) return false;
  const a = Buffer.from(presented);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Where credential files live: $XDG_RUNTIME_DIR/jit (a per-login tmpfs) when set, else the state dir. */
export function credentialDir(env: NodeJS.ProcessEnv): string {
  if (env.XDG_RUNTIME_DIR?.startsWith("/")) return join(env.XDG_RUNTIME_DIR, "jit");
  const state = env.XDG_STATE_HOME?.startsWith("/") ? env.XDG_STATE_HOME : join(homedir(), ".local", "state");
  return join(state, "jit", "proxy");
}

/** The external_account credential document for a proxy listening at `baseUrl`. */
export function credentialDocument(baseUrl: string, path: string, secrets: ProxySecrets): Record<string, unknown> {
  return {
    type: "external_account",
    // An audience without a project number: client libraries then never ask Cloud Resource Manager for a project.
    audience: "//iam.googleapis.com/locations/global/jit-proxy",
    subject_token_type: "urn:ietf:params:oauth:token-type:jwt",
    token_url: `${baseUrl}${STS_PATH}`,
    credential_source: { file: path, format: { type: "json", subject_token_field_name: SUBJECT_FIELD } },
    [SUBJECT_FIELD]: secrets.subjectToken,
  };
}

/** Writes the credential file (mode 0600, in a 0700 directory) and returns its path and a remover. */
export function writeCredentialFile(env: NodeJS.ProcessEnv, baseUrl: string, secrets: ProxySecrets): { path: string; remove(): void } {
  const dir = credentialDir(env);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const path = join(dir, `proxy-${process.pid}-${randomBytes(4).toString("hex")}.json`);
  writeFileAtomic(path, `${JSON.stringify(credentialDocument(baseUrl, path, secrets), null, 2)}\n`, 0o600);
  return { path, remove: () => rmSync(path, { force: true }) };
}
