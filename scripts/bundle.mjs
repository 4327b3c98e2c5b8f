// After tsc: replaces dist/mcp/sdk.js (the MCP SDK and zod, re-exported) with one bundled file, so `jit mcp` loads one
// module instead of ~200 (its cold start). Only third-party code goes in; jit's own modules stay as tsc wrote them.
import { rm } from "node:fs/promises";
import { build } from "esbuild";

await build({
  entryPoints: ["src/mcp/sdk.ts"],
  outfile: "dist/mcp/sdk.js",
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node22",
  minify: true,
  legalComments: "eof",
  logLevel: "warning",
  // Some of the bundled packages are CommonJS and call require() for Node's built-ins.
  banner: { js: 'import { createRequire as __jitRequire } from "node:module"; const require = __jitRequire(import.meta.url);' },
});

// tsc's source map described the re-exporting stub, not the bundle.
await rm("dist/mcp/sdk.js.map", { force: true });
