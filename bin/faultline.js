#!/usr/bin/env node
// Launcher for `faultline`: the CLI itself is TypeScript, compiled to dist/ by `npm install` (prepare).
let mod;
try {
  mod = await import("../dist/node-runtime/cli.js");
} catch (e) {
  if (e?.code === "ERR_MODULE_NOT_FOUND" && String(e.message).includes("cli.js")) {
    console.error("faultline: not built yet. Run `npm install` (it builds) or `npm run build`.");
    process.exit(3);
  }
  throw e;
}
await mod.cli();
