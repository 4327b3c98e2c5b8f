#!/usr/bin/env node
// The jit command: runs the compiled CLI (npm run build writes dist/).
const [major, minor] = process.versions.node.split(".").map(Number);
if (major < 22 || (major === 22 && minor < 12)) {
  process.stderr.write(`error: jit needs Node.js >= 22.12, this is ${process.version}\nhint: install a current Node.js, or in a checkout run: . scripts/node-env.sh\n`);
  process.exit(2);
}
const notBuilt = (err) => {
  process.stderr.write(`error: jit is not built (${err.code ?? err.message})\nhint: run npm run build in the jit checkout\n`);
  process.exit(1);
};
// `jit --version` and `jit --help` answer from here, before the CLI's own modules load: they are what people and
// scripts run most to check that jit works, and should cost little more than starting Node.
const only = process.argv.length === 3 ? process.argv[2] : undefined;
if (only === "--version" || only === "-v" || only === "-V") {
  const { readFileSync } = await import("node:fs");
  process.stdout.write(`${JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")).version}\n`);
} else if (only === "--help" || only === "-h") {
  import("../dist/cli/help-text.js").then((m) => process.stdout.write(m.HELP_TEXT), notBuilt);
} else {
  import("../dist/cli/main.js").then((m) => m.run(), notBuilt);
}
