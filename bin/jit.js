#!/usr/bin/env node
// The jit command: runs the compiled CLI (npm run build writes dist/).
const [major, minor] = process.versions.node.split(".").map(Number);
if (major < 22 || (major === 22 && minor < 12)) {
  process.stderr.write(`error: jit needs Node.js >= 22.12, this is ${process.version}\nhint: install a current Node.js, or in a checkout run: . scripts/node-env.sh\n`);
  process.exit(2);
}
import("../dist/cli/main.js").then(
  (m) => m.run(),
  (err) => {
    process.stderr.write(`error: jit is not built (${err.code ?? err.message})\nhint: run npm run build in the jit checkout\n`);
    process.exit(1);
  },
);
