// The package version, read once from the package.json that sits above this file (in the source
// tree or under dist/).

import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

function find(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { name?: string; version?: string };
      if (pkg.name === "faultline" && typeof pkg.version === "string") return pkg.version;
    } catch {
      // not here; look further up
    }
    dir = dirname(dir);
  }
  return "0.0.0";
}

export const VERSION = find();
