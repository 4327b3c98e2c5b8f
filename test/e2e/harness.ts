/** End-to-end harness: spawns the built `jit` binary, a `jit broker dev` on a free port, and signs demo users in through the device flow. */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const JIT_BIN = fileURLToPath(new URL("../../bin/jit.js", import.meta.url));

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `jit args...` with the given env and optional stdin; resolves with its exit code and output. */
export function runJit(args: string[], env: NodeJS.ProcessEnv, opts: { input?: string; timeoutMs?: number } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [JIT_BIN, ...args], { env, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs ?? 30_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
    child.stdin.end(opts.input ?? "");
  });
}

/** A user's isolated environment: own config dir, own file credential store. */
export function userEnv(home: string, brokerUrl: string | undefined, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: home,
    XDG_CONFIG_HOME: join(home, "config"),
    XDG_STATE_HOME: join(home, "state"),
    JIT_CREDENTIAL_STORE: "file",
    NO_COLOR: "1",
    ...extra,
  };
  if (brokerUrl) env.JIT_BROKER = brokerUrl;
  return env;
}

export interface DevBrokerProcess {
  url: string;
  child: ChildProcess;
  dir: string;
  /** An isolated environment per demo user (created on first use). */
  env(user: string): NodeJS.ProcessEnv;
  login(user: string): Promise<RunResult>;
  /** Stops the broker and deletes its directory. */
  stop(): Promise<void>;
  /** kill -9: no shutdown, the directory stays (restart with startBroker({ dir })). */
  kill(): Promise<void>;
}

/** Starts `jit broker dev --port 0` in a temp dir (or `opts.dir`, to restart on the same store) and waits until it prints its URL. */
export async function startBroker(opts: { dir?: string } = {}): Promise<DevBrokerProcess> {
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), "jit-e2e-"));
  const child = spawn(process.execPath, [JIT_BIN, "broker", "dev", "--port", "0", "--data-dir", join(dir, "broker"), "--json"], {
    env: { PATH: process.env.PATH, HOME: dir, NO_COLOR: "1" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stderr!.on("data", (d) => (err += d));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`broker did not start in 20s: ${err}`)), 20_000);
    child.stdout!.on("data", (d) => {
      out += d;
      try {
        const parsed = JSON.parse(out) as { url: string };
        clearTimeout(timer);
        resolve(parsed.url);
      } catch {
        // not complete yet
      }
    });
    child.on("exit", (code) => reject(new Error(`broker exited with ${code}: ${err}`)));
  });
  const envs = new Map<string, NodeJS.ProcessEnv>();
  const broker: DevBrokerProcess = {
    url,
    child,
    dir,
    env(user) {
      if (!envs.has(user)) envs.set(user, userEnv(join(dir, user), url));
      return envs.get(user)!;
    },
    login: (user) => loginAs(broker, user),
    async stop() {
      if (child.exitCode === null) {
        child.kill("SIGTERM");
        await new Promise((r) => child.once("exit", r));
      }
      rmSync(dir, { recursive: true, force: true });
    },
    async kill() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGKILL");
        await new Promise((r) => child.once("exit", r));
      }
    },
  };
  return broker;
}

/** Runs `jit login --no-browser` with `env` and hands the printed user code to `confirm` (which signs the person in). */
export function loginWith(env: NodeJS.ProcessEnv, confirm: (userCode: string) => Promise<void>): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [JIT_BIN, "login", "--no-browser"], { env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    let confirmed = false;
    const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => {
      stderr += d;
      const m = /enter the code ([A-Z0-9-]+)/.exec(stderr);
      if (m && !confirmed) {
        confirmed = true;
        confirm(m[1]!).catch((err: Error) => (stderr += `\n[harness] confirming the code failed: ${err.message}`));
      }
    });
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
}

/** Confirms a device login through the dev broker's `POST /dev/device/approve`. */
export async function approveDeviceCode(brokerUrl: string, userCode: string, user: string, password = user): Promise<void> {
  const res = await fetch(`${brokerUrl}/dev/device/approve`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ user_code: userCode, username: user, password }),
  });
  if (!res.ok) throw new Error(`approve failed: ${res.status} ${await res.text()}`);
}

/** Runs `jit login --no-browser` and confirms the printed user code through the dev IdP's approve endpoint. */
export function loginAs(broker: DevBrokerProcess, user: string, password = user): Promise<RunResult> {
  return loginWith(broker.env(user), (code) => approveDeviceCode(broker.url, code, user, password));
}
