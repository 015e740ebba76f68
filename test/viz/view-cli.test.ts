// `sim view` and `faultline view` as a user drives them: the built binaries, real files, the
// server on 127.0.0.1 and the self-contained report. `npm test` builds first (pretest).

import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";

const repo = join(import.meta.dirname, "..", "..");
const bin = (name: string) => join(repo, "bin", `${name}.js`);

function run(cli: string, args: string[], cwd: string): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [bin(cli), ...args], { cwd, encoding: "utf8" });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The inputs and findings a report embeds, as the page reads them. */
function embedded(html: string): { inputs: { name: string; text: string }[]; findings: unknown[] } {
  const inputs = [...html.matchAll(/<script type="application\/x-ndjson" class="faultline-trace" data-name="([^"]*)">([\s\S]*?)<\/script>/g)].map((m) => ({ name: m[1] as string, text: m[2] as string }));
  const f = /<script id="faultline-findings" type="application\/json">([\s\S]*?)<\/script>/.exec(html);
  expect(f).not.toBeNull();
  return { inputs, findings: JSON.parse(f?.[1] ?? "") as unknown[] };
}

/** The values of a JSON-lines text, line by line. */
const values = (text: string): unknown[] => text.trim().split("\n").map((l) => JSON.parse(l) as unknown);

let dir: string;
let trace: string;
beforeAll(() => {
  if (!existsSync(join(repo, "dist", "viz", "main.js"))) throw new Error("dist/viz is missing: run `npm run build` (npm test does it for you)");
  dir = mkdtempSync(join(tmpdir(), "viz-cli-"));
  trace = join(dir, "mc.jsonl");
  const r = run("sim", ["run", join(repo, "scenarios", "master-crash.yaml"), "--trace", trace], dir);
  expect(r.code, r.stderr).toBe(0);
});

describe("sim view", () => {
  it("--out writes one HTML file with the page, its script and styles, and the trace inlined", () => {
    const out = join(dir, "report.html");
    const r = run("sim", ["view", trace, "--out", out], dir);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^Wrote .*report\.html \([\d,]+ KB\): open it in a browser\.\n$/);
    const html = readFileSync(out, "utf8");
    expect(html).not.toContain('src="main.js"');
    expect(html).not.toContain('href="style.css"');
    expect(html).toMatch(/<style>[^<]*\.map/);
    const data = embedded(html);
    expect(data.inputs.map((i) => i.name)).toEqual(["mc.jsonl"]);
    expect(values(data.inputs[0]?.text ?? "")).toEqual(values(readFileSync(trace, "utf8")));
    expect(data.findings).toEqual([]);
    // The trace, the findings and the bundle: nothing inside may close a script element early.
    expect(html.match(/<\/script>/g)).toHaveLength(3);
  });

  it("a trace whose strings hold </script> and <!-- stays inside its element and reads back the same", () => {
    const odd = join(dir, "odd.jsonl");
    const lines = [{ t: 1, node: "c1", type: "client-op", phase: "invoke", op: 0, target: "n1", req: { cmd: ["SET", "</script><script>alert(1)</script>", "<!--"] } }];
    writeFileSync(odd, `${lines.map((l) => JSON.stringify(l)).join("\n")}\n`);
    const out = join(dir, "odd.html");
    expect(run("sim", ["view", odd, "--out", out], dir).code).toBe(0);
    const html = readFileSync(out, "utf8");
    expect(html.match(/<\/script>/g)).toHaveLength(3);
    expect(values(embedded(html).inputs[0]?.text ?? "")).toEqual(lines);
  });

  it("a sim run --json result given with the trace adds its findings", () => {
    const result = join(dir, "result.json");
    writeFileSync(result, JSON.stringify({ pass: false, failures: [{ kind: "invariant", name: "wait-durable", atMs: 7000, message: "x in k1 was confirmed and is gone" }] }));
    const out = join(dir, "with-findings.html");
    expect(run("sim", ["view", trace, result, "--out", out], dir).code).toBe(0);
    expect(embedded(readFileSync(out, "utf8")).findings).toEqual([{ atMs: 7000, kind: "invariant", name: "wait-durable", message: "x in k1 was confirmed and is gone" }]);
  });

  it("serves the page and the data on 127.0.0.1 and prints the URL", async () => {
    const server = spawn(process.execPath, [bin("sim"), "view", trace], { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let out = "";
        server.stdout.on("data", (b: Buffer) => {
          out += b.toString();
          const m = /Viewer: (http:\/\/127\.0\.0\.1:\d+\/)/.exec(out);
          if (m?.[1] !== undefined) resolve(m[1]);
        });
        server.once("exit", (code) => reject(new Error(`exited ${code}`)));
      });
      const page = await fetch(url);
      expect(page.headers.get("content-type")).toContain("text/html");
      expect(await page.text()).toContain('data-testid="map"');
      const data = (await (await fetch(`${url}data.json`)).json()) as { inputs: { name: string; href: string }[]; findings: unknown[] };
      expect(data).toEqual({ inputs: [{ name: "mc.jsonl", href: "trace/0" }], findings: [] });
      expect(await (await fetch(`${url}trace/0`)).text()).toBe(readFileSync(trace, "utf8"));
      expect((await fetch(`${url}trace/1`)).status).toBe(404);
      expect((await fetch(`${url}main.js`)).status).toBe(200);
      expect((await fetch(`${url}serve.js`)).status).toBe(404);
    } finally {
      server.kill("SIGINT");
    }
    const code = await new Promise<number | null>((resolve) => server.once("exit", resolve));
    expect(code).toBe(0);
  });

  it("a missing file, something that is not a trace, a bad port: one line, exit 2, no stack", () => {
    const junk = join(dir, "junk.txt");
    writeFileSync(junk, "hello\n");
    const cases: [string[], string][] = [
      [["view", join(dir, "nope.jsonl")], `sim: cannot read ${join(dir, "nope.jsonl")}: no such file\n`],
      [["view", junk], `sim: ${junk}: not a trace, a node log or a sim run --json result (its first line is not a trace event)\n`],
      [["view", trace, "--port", "70000"], "sim: --port 70000: expected 0..65535\n"],
    ];
    for (const [args, stderr] of cases) {
      const r = run("sim", args, dir);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.stderr).toBe(stderr);
    }
  });
});

describe("faultline view", () => {
  it("merges real nodes' logs into one report; a missing log is one line, exit 2", () => {
    const a = join(dir, "7000.log");
    const b = join(dir, "7001.log");
    writeFileSync(a, `${JSON.stringify({ level: "info", t: 1000, node: "127.0.0.1:7000", type: "listening" })}\n${JSON.stringify({ level: "info", t: 1005, node: "127.0.0.1:7000", type: "pfail", about: "127.0.0.1:7001" })}\n`);
    writeFileSync(b, `${JSON.stringify({ level: "info", t: 1001, node: "127.0.0.1:7001", type: "listening" })}\n`);
    const out = join(dir, "logs.html");
    const r = run("faultline", ["view", a, b, "--out", out], dir);
    expect(r.code, r.stderr).toBe(0);
    expect(embedded(readFileSync(out, "utf8")).inputs.map((i) => i.name)).toEqual(["7000.log", "7001.log"]);
    const missing = run("faultline", ["view", join(dir, "gone.log")], dir);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toBe(`faultline: cannot read ${join(dir, "gone.log")}: no such file\n`);
  });
});
