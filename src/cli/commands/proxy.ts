/**
 * `jit proxy`: BigQuery's v2 REST API on 127.0.0.1 as the signed-in person, for unmodified BigQuery clients.
 * Three forms: in the foreground (prints what to give a client on stderr), `--env` (starts it in the
 * background and prints export lines, like ssh-agent), and `-- COMMAND` (runs COMMAND under it).
 */
import { spawn } from "node:child_process";
import { constants } from "node:os";
import type { ClientInfo } from "../client.ts";
import { JitError } from "../../errors.ts";
import type { CliContext } from "../context.ts";
import { intFlag } from "./util.ts";

interface ProxyOpts {
  port?: string;
  env?: boolean;
}

/** Set (to "1") by `--env` for its background child, which prints one JSON line when ready, then nothing on stdout. */
const DETACHED_VAR = "JIT_PROXY_SERVE_DETACHED";

const DEFAULT_PORT = 9050;

interface Running {
  url: string;
  credentials: string;
  stop(): Promise<void>;
}

/** Starts the proxy: listens, writes the credential file, and resolves with how to reach it. */
async function startProxy(ctx: CliContext, port: number): Promise<Running> {
  const baseUrl = ctx.brokerUrl();
  const [{ BrokerClient }, { tokenSuppliers }, { createProxyHandler, listenProxy }, { mintSecrets, writeCredentialFile }] = await Promise.all([
    import("../client.ts"), import("../../mcp/token.ts"), import("../../proxy/server.ts"), import("../../proxy/credential.ts"),
  ]);
  const tokenFor = tokenSuppliers(() => ctx.credentials());
  const secrets = mintSecrets();
  const handler = createProxyHandler({
    secrets,
    // The credential store is read on every call (through the shared supplier), so a later `jit login` just works.
    broker: (userAgent) => new BrokerClient({
      baseUrl,
      client: { kind: "proxy", name: userAgent, version: ctx.version } satisfies ClientInfo,
      token: tokenFor(baseUrl),
    }),
    log: (line) => ctx.io.err(line),
  });
  const { server, url } = await listenProxy(handler, port);
  let file;
  try {
    file = writeCredentialFile(ctx.io.env, url, secrets);
  } catch (err) {
    server.close();
    throw new JitError("internal", `cannot write the proxy's credential file: ${(err as Error).message}`);
  }
  return {
    url,
    credentials: file.path,
    stop: async () => {
      file.remove();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const exportLine = (k: string, v: string) => `export ${k}=${/^[A-Za-z0-9_\/.:@%+=,-]+$/.test(v) ? v : `'${v.replaceAll("'", `'\\''`)}'`}`;

/** Runs the proxy in one of its three forms. */
export async function proxyCommand(ctx: CliContext, command: string[], opts: ProxyOpts): Promise<void> {
  const detached = ctx.io.env[DETACHED_VAR] === "1";
  const portFlag = intFlag(opts.port, "port");
  if (portFlag !== undefined && portFlag > 65535) throw new JitError("usage", "--port must be between 0 and 65535");
  if (opts.env && command.length) throw new JitError("usage", "--env starts a background proxy; it takes no command", { hint: "jit proxy -- COMMAND ARGS, or eval \"$(jit proxy --env)\"" });
  if (opts.env && !detached) return startInBackground(ctx, portFlag ?? DEFAULT_PORT);
  ctx.brokerUrl(); // a usage error before anything listens
  if (command.length) return runUnder(ctx, command, portFlag ?? 0);

  const proxy = await startProxy(ctx, portFlag ?? DEFAULT_PORT);
  try {
    if (detached) {
      // The parent reads one line and leaves: later writes to its closed pipes must not end this process.
      ctx.io.stderr.on("error", () => {});
      ctx.io.stdout.on("error", () => {});
      ctx.io.out(JSON.stringify({ url: proxy.url, credentials: proxy.credentials, pid: process.pid }));
    } else {
      const { io } = ctx;
      io.err(`jit proxy: BigQuery's API on ${proxy.url}, ${await whoIs(ctx)} (Ctrl-C to stop). Give a client:`);
      io.err(`  BIGQUERY_EMULATOR_HOST=${proxy.url}`);
      io.err(`  GOOGLE_APPLICATION_CREDENTIALS=${proxy.credentials}`);
      io.err(`  or apiEndpoint: ${proxy.url}   (Node: new BigQuery({apiEndpoint}), MCP Toolbox: the source's apiEndpoint)`);
    }
    await ctx.io.untilShutdown();
  } finally {
    await proxy.stop();
  }
}

/** Who the proxy acts for, for the start-up line; a missing sign-in is only a note, since `jit login` may follow. */
async function whoIs(ctx: CliContext): Promise<string> {
  try {
    const me = await (await ctx.client({ info: { kind: "proxy", name: "jit proxy", version: ctx.version } })).get<{ username: string }>("/v1/whoami");
    return `as ${me.username}`;
  } catch (err) {
    if (err instanceof JitError && err.code === "unauthenticated") return "not signed in yet: run jit login (calls get 401 until then)";
    return `as the signed-in person (the broker did not answer whoami: ${err instanceof Error ? err.message : String(err)})`;
  }
}

/** `-- COMMAND`: runs it with the proxy's variables, stdio untouched, signals forwarded; exits with its status. */
async function runUnder(ctx: CliContext, command: string[], port: number): Promise<void> {
  const proxy = await startProxy(ctx, port);
  try {
    const child = spawn(command[0]!, command.slice(1), {
      stdio: "inherit",
      env: { ...ctx.io.env, BIGQUERY_EMULATOR_HOST: proxy.url, GOOGLE_APPLICATION_CREDENTIALS: proxy.credentials },
    });
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
      child.once("error", reject);
      child.once("exit", (code, signal) => resolve({ code, signal }));
    });
    const stopHangup = ctx.io.onHangup(() => child.kill("SIGHUP"));
    let result: { code: number | null; signal: NodeJS.Signals | null };
    try {
      for (;;) {
        const next = await Promise.race([exited, ctx.io.untilShutdown()]);
        if (typeof next !== "string") {
          result = next;
          break;
        }
        child.kill(next as NodeJS.Signals);
      }
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new JitError("usage", `cannot run ${command[0]}: ${code === "ENOENT" ? "command not found" : (code ?? (err as Error).message)}`);
    } finally {
      stopHangup();
    }
    ctx.exitCode = result.signal ? 128 + (constants.signals[result.signal] ?? 0) : (result.code ?? 1);
  } finally {
    await proxy.stop();
  }
}

/** `--env`: starts the proxy as a detached child, prints `export` lines once it listens, and returns. */
async function startInBackground(ctx: CliContext, port: number): Promise<void> {
  const { jitBinPath } = await import("../../mcp/config-snippet.ts");
  const args = [jitBinPath(), "proxy", "--port", String(port), "--env"];
  const broker = ctx.flags.broker;
  if (broker) args.push("--broker", broker);
  const child = spawn(process.execPath, args, { env: { ...ctx.io.env, [DETACHED_VAR]: "1" }, stdio: ["ignore", "pipe", "pipe"], detached: true });
  let out = "";
  let err = "";
  const ready = await new Promise<{ url: string; credentials: string; pid: number }>((resolve, reject) => {
    child.stdout!.on("data", (d) => {
      out += d;
      const line = out.split("\n")[0]!;
      if (out.includes("\n")) {
        try {
          resolve(JSON.parse(line) as { url: string; credentials: string; pid: number });
        } catch {
          reject(new JitError("internal", `the background proxy said something unexpected: ${line.slice(0, 200)}`));
        }
      }
    });
    child.stderr!.on("data", (d) => (err += d));
    child.once("exit", () => reject(new JitError("usage", err.replace(/^error:\s*/m, "").split("\n")[0] || "the background proxy exited before it listened", {
      hint: err.split("\n").find((l) => l.startsWith("hint:"))?.replace(/^hint:\s*/, ""),
    })));
  });
  // The child keeps running on its own: it must hold no pipe of ours, or `eval "$(jit proxy --env)"` would wait forever.
  child.stdout!.destroy();
  child.stderr!.destroy();
  child.unref();
  ctx.io.out(exportLine("BIGQUERY_EMULATOR_HOST", ready.url));
  ctx.io.out(exportLine("GOOGLE_APPLICATION_CREDENTIALS", ready.credentials));
  ctx.io.out(exportLine("JIT_PROXY_PID", String(ready.pid)));
  ctx.io.err(`jit proxy: running in the background on ${ready.url} (pid ${ready.pid}); stop it with: kill ${ready.pid}`);
}
