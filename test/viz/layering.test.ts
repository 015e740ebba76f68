// DESIGN.md's rule for viz/: it may import only the trace types in core/, never sim/ or
// node-runtime/; the model and the page run in a browser, so they import no node:* module
// either (viz/serve.ts is the Node side). Checked on the import specifiers of every source file.

import { readdirSync, readFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const repo = join(import.meta.dirname, "..", "..");
const viz = join(repo, "viz");

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    const p = join(dir, d.name);
    if (d.isDirectory()) return d.name === "test-support" ? [] : sources(p);
    return d.name.endsWith(".ts") && !d.name.endsWith(".test.ts") ? [p] : [];
  });
}

function imports(file: string): string[] {
  return [...readFileSync(file, "utf8").matchAll(/^\s*(?:import|export)\s[^;]*?from\s+"([^"]+)"/gm)].map((m) => m[1] as string);
}

/** What `file` may not import, or null. */
function violation(file: string, spec: string): string | null {
  const browser = !file.endsWith(join("viz", "serve.ts"));
  if (spec.startsWith("node:")) return browser ? `${spec} in browser code` : null;
  if (!spec.startsWith(".")) return null;
  const target = relative(repo, resolve(file, "..", spec));
  if (target.startsWith("viz")) return null;
  return target === join("core", "trace.js") ? null : `${target} is outside viz/ and not core/trace.ts`;
}

describe("viz/ layering", () => {
  it("has sources to check", () => {
    expect(sources(viz).length).toBeGreaterThan(10);
  });

  it("imports only core/trace.ts outside viz/, and no node:* outside serve.ts", () => {
    const bad = sources(viz).flatMap((f) => imports(f).map((s) => [relative(repo, f), s, violation(f, s)] as const)).filter(([, , v]) => v !== null);
    expect(bad).toEqual([]);
  });

  it.each([
    ["viz/model/x.ts", "../../sim/run.js", "sim/run.js is outside viz/ and not core/trace.ts"],
    ["viz/page/x.ts", "node:fs", "node:fs in browser code"],
    ["viz/model/x.ts", "../../core/cluster/node.js", "core/cluster/node.js is outside viz/ and not core/trace.ts"],
  ])("catches %s importing %s", (file, spec, why) => {
    expect(violation(join(repo, file), spec)).toBe(why);
  });

  it.each([
    ["viz/model/x.ts", "../../core/trace.js"],
    ["viz/serve.ts", "node:http"],
    ["viz/page/render/x.ts", "../../model/state.js"],
    ["viz/page/x.ts", "d3"],
  ])("allows %s importing %s", (file, spec) => {
    expect(violation(join(repo, file), spec)).toBeNull();
  });
});
