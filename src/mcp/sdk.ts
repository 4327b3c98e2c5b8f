/**
 * The MCP SDK and zod, as `jit mcp` uses them. `npm run build` replaces this module's compiled form with one bundled
 * file (scripts/bundle.mjs): the SDK and zod are ~200 small modules, and resolving and loading them one by one was
 * most of `jit mcp`'s cold start. Everything MCP-side imports them from here, so there is one copy of each.
 */
export { McpServer, ResourceTemplate } from "@modelcontextprotocol/sdk/server/mcp.js";
export { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
export { AjvJsonSchemaValidator } from "@modelcontextprotocol/sdk/validation/ajv";
export type { jsonSchemaValidator as JsonSchemaValidator } from "@modelcontextprotocol/sdk/validation/types.js";
export { z } from "zod";
