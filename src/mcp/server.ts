/** `jit mcp`: an MCP server on stdio acting as the signed-in person, through the CLI's broker client. */
import type { Readable, Writable } from "node:stream";
import type { BrokerClient, ClientInfo } from "../cli/client.ts";
import { registerAccessTools } from "./access-tools.ts";
import { AjvJsonSchemaValidator, type JsonSchemaValidator, McpServer, StdioServerTransport } from "./sdk.ts";
import { registerTableResources } from "./resources.ts";
import { registerReadTools } from "./tools.ts";

export interface JitMcpOptions {
  /** jit's own version, announced in the handshake. */
  version: string;
  /** A broker client for one call; `info` names the MCP client for the audit log. Called per call, never cached. */
  client(info: ClientInfo): Promise<BrokerClient>;
  /** Writes a line to stderr. */
  log(line: string): void;
}

const INSTRUCTIONS = [
  "jit runs BigQuery SQL for you as the signed-in person, with policy checks, masking and an audit record for every call.",
  "Typical flow: list_datasets → access_status (or request_access when there is no grant) → list_tables / describe_table → query.",
  "Masked columns come back masked; never ask a person for raw values. When a tool says a person must act (jit login, jit approve ID), tell the user exactly that.",
].join("\n");

/** Header values must be printable ASCII; the MCP client's self-reported name and version are not trusted to be. */
export function headerSafe(value: string | undefined, max: number): string {
  return (value ?? "").replace(/[^\x20-\x7e]/g, "?").slice(0, max);
}

/**
 * The SDK validates with Ajv only what a client answers to an elicitation, which jit never asks for; building the
 * Ajv instance (compiling its meta-schemas) was a tenth of `jit mcp`'s cold start, so it is built on first use.
 */
export function lazySchemaValidator(): JsonSchemaValidator {
  let real: AjvJsonSchemaValidator | undefined;
  return {
    getValidator<T>(schema: Parameters<JsonSchemaValidator["getValidator"]>[0]) {
      return (real ??= new AjvJsonSchemaValidator()).getValidator<T>(schema);
    },
  };
}

/** Builds the MCP server with every jit tool and resource registered (not yet connected). */
export async function createJitMcpServer(opts: JitMcpOptions) {
  const server = new McpServer(
    { name: "jit", title: "jit: just-in-time BigQuery access", version: opts.version },
    { instructions: INSTRUCTIONS, jsonSchemaValidator: lazySchemaValidator() },
  );
  // The client identity is known only after initialize, so it is read on every call.
  const info = (): ClientInfo => {
    const v = server.server.getClientVersion();
    return { kind: "mcp", name: headerSafe(v?.name, 100) || "unknown", version: headerSafe(v?.version, 40) || "unknown" };
  };
  const ctx = { client: () => opts.client(info()), log: opts.log };
  registerReadTools(server, ctx);
  registerAccessTools(server, ctx);
  registerTableResources(server, ctx);
  return server;
}

/** Serves MCP on the given streams until the client closes stdin or `stop` resolves. */
export async function serveStdio(opts: JitMcpOptions & { stdin: Readable; stdout: Writable; stop?: Promise<unknown> }): Promise<void> {
  const server = await createJitMcpServer(opts);
  const transport = new StdioServerTransport(opts.stdin, opts.stdout);
  const closed = new Promise<void>((resolve) => {
    transport.onclose = () => resolve();
  });
  // The stdio transport does not end on EOF by itself; a client that went away must not leave the server behind.
  const end = () => void server.close().catch(() => {});
  opts.stdin.once("end", end);
  opts.stdin.once("close", end);
  opts.stdout.on("error", end);
  opts.stop?.then(end);
  server.server.oninitialized = () => {
    const v = server.server.getClientVersion();
    opts.log(`jit mcp: serving ${headerSafe(v?.name, 100) || "an MCP client"} ${headerSafe(v?.version, 40)} on stdio`);
  };
  await server.connect(transport);
  await closed;
}
