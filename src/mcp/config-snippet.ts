/**
 * The config snippets that add jit to MCP clients (Claude Desktop, Cursor, VS Code, Claude Code). Pure.
 * Two forms: `jit mcp` itself, or another BigQuery MCP server run under `jit proxy -- SERVER ARGS`.
 */
import { realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";

export const MCP_CLIENTS = ["claude-desktop", "cursor", "vscode", "claude-code"] as const;
export type McpClientName = (typeof MCP_CLIENTS)[number];

/** How an MCP client starts jit: an absolute Node binary, the absolute bin/jit.js, then `mcp` (or `proxy -- SERVER`). */
export interface Launch {
  /** The server's name in the client's config: `jit`, or `bigquery-via-jit` for the proxy form. */
  name: string;
  command: string;
  args: string[];
  env?: Record<string, string>;
}

export interface ClientSnippet {
  client: McpClientName;
  /** Where the snippet goes, in words. */
  file: string;
  config: Record<string, unknown>;
  /** Claude Code only: the `claude mcp add` command that does the same. */
  command_line?: string;
}

/** Non-secret settings that decide which broker and credential store jit uses; MCP clients start servers with a bare environment. */
const PASSED_ENV = ["JIT_CREDENTIAL_STORE", "XDG_CONFIG_HOME", "XDG_STATE_HOME"] as const;

/** The absolute path of this installation's bin/jit.js (src/mcp and dist/mcp are both two levels below it). */
export function jitBinPath(): string {
  const path = fileURLToPath(new URL("../../bin/jit.js", import.meta.url));
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}

/**
 * The launch line. Node is named explicitly because GUI clients do not get the shell's PATH, so the
 * `#!/usr/bin/env node` shebang may find no Node or one too old for jit (and Windows cannot run a .js file).
 */
export function jitLaunch(opts: { nodePath: string; binPath: string; broker?: string; env?: NodeJS.ProcessEnv; proxied?: string[] }): Launch {
  const proxied = opts.proxied?.length ? opts.proxied : undefined;
  const args = [opts.binPath, proxied ? "proxy" : "mcp"];
  if (opts.broker) args.push("--broker", opts.broker);
  if (proxied) args.push("--", ...proxied);
  const name = proxied ? "bigquery-via-jit" : "jit";
  const env: Record<string, string> = {};
  for (const k of PASSED_ENV) {
    const v = opts.env?.[k];
    if (v) env[k] = v;
  }
  return Object.keys(env).length ? { name, command: opts.nodePath, args, env } : { name, command: opts.nodePath, args };
}

/** Quotes a word for a POSIX shell when it needs it. */
export function shellWord(s: string): string {
  return /^[A-Za-z0-9_\/.,:=@%+-]+$/.test(s) ? s : `'${s.replaceAll("'", `'\\''`)}'`;
}

/** The snippet for one client. */
export function clientSnippet(client: McpClientName, launch: Launch): ClientSnippet {
  const entry = { command: launch.command, args: launch.args, ...(launch.env ? { env: launch.env } : {}) };
  switch (client) {
    case "vscode":
      return {
        client,
        file: ".vscode/mcp.json in the workspace (or MCP: Open User Configuration for every workspace)",
        config: { servers: { [launch.name]: { type: "stdio", ...entry } } },
      };
    case "claude-desktop":
      return {
        client,
        file: "claude_desktop_config.json (macOS: ~/Library/Application Support/Claude/, Windows: %APPDATA%\\Claude\\); restart Claude Desktop",
        config: { mcpServers: { [launch.name]: entry } },
      };
    case "cursor":
      return {
        client,
        file: "~/.cursor/mcp.json (every project) or .cursor/mcp.json (one project)",
        config: { mcpServers: { [launch.name]: entry } },
      };
    case "claude-code": {
      // The name goes first: Claude Code's --env takes every following word, so `--env A=1 jit` reads `jit` as a variable.
      const envFlags = Object.entries(launch.env ?? {}).map(([k, v]) => ` --env ${shellWord(`${k}=${v}`)}`).join("");
      return {
        client,
        file: ".mcp.json at the project root (or run the command line; add --scope user for every project)",
        config: { mcpServers: { [launch.name]: { type: "stdio", ...entry } } },
        command_line: `claude mcp add ${shellWord(launch.name)}${envFlags} -- ${[launch.command, ...launch.args].map(shellWord).join(" ")}`,
      };
    }
  }
}

/** What `--merge FILE` did: the new file text, whether jit's entry was added or replaced, and the servers kept beside it. */
export interface MergeResult {
  text: string;
  action: "added" | "updated";
  kept: string[];
}

/** Why a config file cannot be merged; the caller turns it into a usage error naming the file. */
export class MergeError extends Error {}

/** True when JSON text holds a comment outside strings (VS Code's mcp.json is JSONC): rewriting it would drop them. */
export function hasComments(text: string): boolean {
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === "\\") i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === "/" && (text[i + 1] === "/" || text[i + 1] === "*")) return true;
  }
  return false;
}

/**
 * Adds the snippet's one server to an existing config (or to an empty one when `existing` is undefined), keeping
 * every other server and every other key as they were. Pure: the caller reads and writes the file.
 */
export function mergeConfig(existing: string | undefined, snippet: ClientSnippet): MergeResult {
  const [key, servers] = Object.entries(snippet.config)[0] as [string, Record<string, unknown>];
  const [name, entry] = Object.entries(servers)[0]!;
  let doc: Record<string, unknown> = {};
  if (existing !== undefined && existing.trim() !== "") {
    if (hasComments(existing)) throw new MergeError("it has comments, which rewriting it would drop; add the entry by hand (jit mcp config without --merge prints it)");
    let parsed: unknown;
    try {
      parsed = JSON.parse(existing);
    } catch (err) {
      throw new MergeError(`it is not valid JSON (${(err as Error).message})`);
    }
    if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) throw new MergeError("it is not a JSON object");
    doc = parsed as Record<string, unknown>;
  }
  const current = doc[key] ?? {};
  if (current === null || typeof current !== "object" || Array.isArray(current)) throw new MergeError(`its "${key}" is not an object of servers`);
  const others = Object.keys(current).filter((n) => n !== name);
  const action = name in current ? "updated" : "added";
  const merged = { ...doc, [key]: { ...(current as Record<string, unknown>), [name]: entry } };
  return { text: `${JSON.stringify(merged, null, 2)}\n`, action, kept: others };
}
