/** Starts the built `jit proxy` for a signed-in user and reads what it prints on stderr: the URL and the credential file. */
import { spawn, type ChildProcess } from "node:child_process";
import { JIT_BIN } from "../e2e/harness.ts";

export interface ProxyProcess {
  url: string;
  credentials: string;
  child: ChildProcess;
  stderr(): string;
  stop(): Promise<number | null>;
}

/** `jit proxy --port 0` with a user's environment; resolves once it printed where it listens. */
export async function startProxy(env: NodeJS.ProcessEnv, args: string[] = []): Promise<ProxyProcess> {
  const child = spawn(process.execPath, [JIT_BIN, "proxy", "--port", "0", ...args], { env, stdio: ["ignore", "pipe", "pipe"] });
  let err = "";
  let out = "";
  child.stdout!.on("data", (d) => (out += d));
  const found = await new Promise<{ url: string; credentials: string }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`jit proxy did not start in 20s: ${err}`)), 20_000);
    child.stderr!.on("data", (d) => {
      err += d;
      const url = /BIGQUERY_EMULATOR_HOST=(\S+)/.exec(err)?.[1];
      const credentials = /GOOGLE_APPLICATION_CREDENTIALS=(\S+)/.exec(err)?.[1];
      if (url && credentials) {
        clearTimeout(timer);
        resolve({ url, credentials });
      }
    });
    child.once("exit", (code) => reject(new Error(`jit proxy exited with ${code}: ${err}`)));
  });
  return {
    ...found,
    child,
    stderr: () => err,
    async stop() {
      if (out) throw new Error(`jit proxy wrote to stdout: ${out}`);
      if (child.exitCode !== null) return child.exitCode;
      child.kill("SIGTERM");
      return new Promise((resolve) => child.once("exit", (code) => resolve(code)));
    },
  };
}

/** The access token a Google client library obtains from the proxy's STS endpoint with the credential file. */
export async function proxyToken(credentials: string): Promise<string> {
  const { readFileSync } = await import("node:fs");
  const doc = JSON.parse(readFileSync(credentials, "utf8")) as { token_url: string; jit_proxy_subject_token: string };
  const res = await fetch(doc.token_url, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      grant_type: "urn:ietf:params:oauth:grant-type:token-exchange",
      subject_token: doc.jit_proxy_subject_token,
      subject_token_type: "urn:ietf:params:oauth:token-type:jwt",
    }),
  });
  if (!res.ok) throw new Error(`STS answered ${res.status}`);
  return ((await res.json()) as { access_token: string }).access_token;
}
