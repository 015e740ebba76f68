// The `sim` command as a user drives it: the built binary, real files, exit statuses.
// `npm test` builds first (pretest), so dist/ is current.

import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "yaml";
import { beforeAll, describe, expect, it } from "vitest";

const repo = join(import.meta.dirname, "..");
const bin = join(repo, "bin", "sim.js");
const scenario = (name: string) => join(repo, "scenarios", name);

interface Out {
  code: number | null;
  stdout: string;
  stderr: string;
}

function sim(args: string[], cwd: string): Out {
  const r = spawnSync(process.execPath, [bin, ...args], { cwd, encoding: "utf8", env: { ...process.env, NO_COLOR: "1" } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

let dir: string;
beforeAll(() => {
  if (!existsSync(join(repo, "dist", "sim", "cli.js"))) throw new Error("dist/ is missing: run `npm run build` (npm test does it for you)");
  dir = mkdtempSync(join(tmpdir(), "sim-cli-"));
});

describe("sim run", () => {
  it("master-crash: the README's first command prints PFAIL → FAIL → election → promotion → rejoin and passes", () => {
    const r = sim(["run", scenario("master-crash.yaml")], dir);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const timeline = r.stdout.slice(r.stdout.indexOf("Timeline"), r.stdout.indexOf("Expectations"));
    const at = (re: RegExp): number => {
      const m = timeline.split("\n").find((l) => re.test(l));
      expect(m, `timeline line matching ${String(re)}`).toBeDefined();
      return Number((m as string).trim().split(/\s+/)[0]);
    };
    const crash = at(/ n1 +crash$/);
    const pfail = at(/ pfail about=n1 /);
    const fail = at(/ fail about=n1 /);
    const election = at(/ n4 +vote-request epoch=/);
    const promoted = at(/ n4 +promoted replaced=n1 /);
    const demoted = at(/ n1 +demoted to=n4 /);
    expect(crash).toBe(5000);
    expect(crash < pfail && pfail <= fail && fail < election && election < promoted && promoted < demoted).toBe(true);
    expect(r.stdout).toMatch(/writes lost: \d+ of \d+ acknowledged writes lost/);
    expect(r.stdout).not.toContain("✗");
    expect(r.stdout).toContain("PASS");
  });

  it("prints a summary, writes a trace, and exits 0 on a passing scenario", () => {
    const r = sim(["run", scenario("toy-leader-crash.yaml")], dir);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("toy-leader-crash · seed 1 · toy-leader × 5 nodes");
    expect(r.stdout).toMatch(/Timeline[\s\S]*leader term=1[\s\S]*crash[\s\S]*leader term=2/);
    expect(r.stdout).toContain("✓ a new leader within 2 s of the crash");
    expect(r.stdout).toContain("✓ election-safety");
    expect(r.stdout).toMatch(/\nPASS /);
    expect(r.stdout).toContain(`Reproduce: npx sim run ${scenario("toy-leader-crash.yaml")} --seed 1`);
    // Default trace location, relative to where sim runs.
    const trace = join(dir, "traces", "toy-leader-crash-seed1.jsonl");
    expect(existsSync(trace)).toBe(true);
    const lines = readFileSync(trace, "utf8").trimEnd().split("\n");
    const header = JSON.parse(lines[0] as string) as Record<string, unknown>;
    expect(header).toMatchObject({ v: 1, type: "header", machine: "toy-leader", seed: 1, detail: "messages" });
    expect(JSON.parse(lines.at(-1) as string)).toMatchObject({ type: "end", result: "pass" });
    for (const l of lines.slice(1, -1)) {
      const e = JSON.parse(l) as { t: unknown; type: unknown };
      expect(typeof e.t).toBe("number");
      expect(typeof e.type).toBe("string");
    }
    expect(r.stdout).toContain(`Trace:     traces/toy-leader-crash-seed1.jsonl (${lines.length.toLocaleString("en-US")} lines`);
  });

  it("gives identical trace bytes for one seed and different traces for two seeds", () => {
    const a = join(dir, "a.jsonl");
    const b = join(dir, "b.jsonl");
    const c = join(dir, "c.jsonl");
    expect(sim(["run", scenario("toy-leader-crash.yaml"), "--seed", "7", "--trace", a], dir).code).toBe(0);
    expect(sim(["run", scenario("toy-leader-crash.yaml"), "--seed", "7", "--trace", b], repo).code).toBe(0);
    expect(sim(["run", scenario("toy-leader-crash.yaml"), "--seed", "8", "--trace", c], dir).code).toBe(0);
    const [ta, tb, tc] = [a, b, c].map((p) => readFileSync(p));
    expect(ta?.equals(tb as Buffer)).toBe(true);
    // Beyond the header (which names the seed), the runs themselves differ.
    const body = (t: Buffer | undefined) => String(t).split("\n").slice(1).join("\n");
    expect(body(ta)).not.toEqual(body(tc));
  });

  it("keeps traces smaller at lower detail levels", () => {
    const sizes = (["events", "messages", "full"] as const).map((d) => {
      const p = join(dir, `detail-${d}.jsonl`);
      expect(sim(["run", scenario("toy-leader-crash.yaml"), "--detail", d, "--trace", p], dir).code).toBe(0);
      return readFileSync(p).length;
    });
    expect(sizes[0]).toBeLessThan(sizes[1] as number);
    expect(sizes[1]).toBeLessThan(sizes[2] as number);
    const full = readFileSync(join(dir, "detail-full.jsonl"), "utf8");
    expect(full).toContain('"type":"timer"');
    expect(full).toContain('"body":{');
    expect(readFileSync(join(dir, "detail-events.jsonl"), "utf8")).not.toContain('"type":"send"');
  });

  it("exits 1 with a reproduction line when an expectation fails", () => {
    const r = sim(["run", scenario("failing/toy-split-brain.yaml"), "--no-trace"], dir);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("✗ never two leaders at once — violated at");
    expect(r.stdout).toMatch(/\nFAIL /);
    expect(r.stdout).toContain("Reproduce: npx sim run");
    expect(r.stdout).not.toContain("Trace:");
  });

  it("prints the result as JSON with --json", () => {
    const r = sim(["run", scenario("toy-leader-crash.yaml"), "--json", "--no-trace"], dir);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout) as { pass: boolean; seed: number; expectations: unknown[]; reproduce: string; trace: unknown };
    expect(j.pass).toBe(true);
    expect(j.seed).toBe(1);
    expect(j.expectations).toHaveLength(3);
    expect(j.trace).toBeNull();
    expect(j.reproduce).toMatch(/--seed 1$/);
  });
});

describe("sim replay", () => {
  it("confirms a trace byte for byte, and reports the first differing line of an altered one", () => {
    const t = join(dir, "replay.jsonl");
    expect(sim(["run", scenario("toy-swarm.yaml"), "--seed", "3", "--trace", t], dir).code).toBe(0);
    const ok = sim(["replay", t], dir);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/^identical: [\d,]+ lines match, byte for byte \(toy-swarm, seed 3/);

    const lines = readFileSync(t, "utf8").split("\n");
    lines[40] = (lines[40] as string).replace('"t":', '"t": ');
    const altered = join(dir, "altered.jsonl");
    writeFileSync(altered, lines.join("\n"));
    const bad = sim(["replay", altered], dir);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toContain("DIFFERENT: the re-run departs from the trace at line 41");
  });

  it("refuses a file that is not a trace", () => {
    const p = join(dir, "not-a-trace.jsonl");
    writeFileSync(p, "hello\n");
    const r = sim(["replay", p], dir);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe(`sim: ${p}:1: not a trace (the first line is not JSON)`);
  });
});

describe("sim explore", () => {
  it("runs 200 seeds across workers with progress and a summary", () => {
    const r = sim(["explore", scenario("toy-leader-crash.yaml"), "--seeds", "1..200", "--workers", "2"], dir);
    expect(r.code, r.stderr).toBe(0);
    // Not a terminal here, so progress comes as plain lines on stderr.
    expect(r.stderr).toContain("exploring toy-leader-crash: 100/200 seeds");
    expect(r.stderr).toContain("exploring toy-leader-crash: 200/200 seeds");
    expect(r.stdout).toContain("200 seeds · 2 workers");
    expect(r.stdout).toContain("200 passed · 0 failed");
  });

  it("lists failing seeds with reproduction lines that reproduce them", () => {
    const path = scenario("failing/toy-vote-before-fsync.yaml");
    const r = sim(["explore", path, "--seeds", "1..40", "--json"], dir);
    expect(r.code).toBe(1);
    const j = JSON.parse(r.stdout) as { failed: number; outcomes: { seed: number; pass: boolean; failures: { name: string; message: string }[] }[] };
    expect(j.failed).toBeGreaterThan(0);
    const failing = j.outcomes.find((o) => !o.pass);
    expect(failing?.failures[0]?.name).toBe("vote-once");
    // The seed fails the same way under `sim run`.
    const again = sim(["run", path, "--seed", String(failing?.seed), "--no-trace"], dir);
    expect(again.code).toBe(1);
    expect(again.stdout).toContain(failing?.failures[0]?.message as string);
  });

  it("rejects a malformed seed range", () => {
    const r = sim(["explore", scenario("toy-leader-crash.yaml"), "--seeds", "9..3"], dir);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe("sim: --seeds 9..3: the range runs backwards");
  });
});

describe("sim shrink", () => {
  it("turns a deliberately failing scenario into a shorter one that still fails", () => {
    const out = join(dir, "shrunk.yaml");
    const r = sim(["shrink", scenario("failing/toy-split-brain.yaml"), "--seed", "1", "--out", out], dir);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/shrunk toy-split-brain seed 1: 10 faults → 1/);
    const original = parse(readFileSync(scenario("failing/toy-split-brain.yaml"), "utf8")) as { faults: unknown[]; durationMs: number };
    const shrunk = parse(readFileSync(out, "utf8")) as { faults: { partition?: unknown }[]; durationMs: number };
    expect(shrunk.faults.length).toBeLessThan(original.faults.length);
    expect(shrunk.faults[0]?.partition).toBeDefined();
    expect(shrunk.durationMs).toBeLessThan(original.durationMs);
    const rerun = sim(["run", out, "--no-trace"], dir);
    expect(rerun.code).toBe(1);
    expect(rerun.stdout).toContain("✗ never two leaders at once");
  });

  it("removes a named partition together with the heal that names it", () => {
    // The leader-isolating partition is healed by name, and an unrelated named partition comes and
    // goes by name too: a candidate without either partition must not keep its now-dangling heal.
    const src = readFileSync(scenario("failing/toy-split-brain.yaml"), "utf8")
      .replace("  - { at: 7000, partition: { isolate: { where: { role: leader } } }, for: 4000 }", "  - { at: 7000, partition: { isolate: { where: { role: leader } } }, name: cut }\n  - { at: 11000, heal: cut }")
      .replace("  - { at: 1000, pause: n5, for: 200 }", "  - { at: 1000, partition: { isolate: n5 }, name: side }\n  - { at: 1200, heal: side }");
    expect(src).toContain("heal: cut");
    expect(src).toContain("heal: side");
    const input = join(dir, "named-heals.yaml");
    writeFileSync(input, src);
    const out = join(dir, "named-heals-shrunk.yaml");
    const r = sim(["shrink", input, "--seed", "1", "--out", out], dir);
    expect(r.code, r.stderr).toBe(0);
    const shrunk = parse(readFileSync(out, "utf8")) as { faults: Record<string, unknown>[] };
    expect(shrunk.faults.some((f) => f["heal"] === "side" || f["name"] === "side")).toBe(false);
    expect(shrunk.faults.some((f) => f["name"] === "cut")).toBe(true);
    const rerun = sim(["run", out, "--no-trace"], dir);
    expect(rerun.code).toBe(1);
    expect(rerun.stdout).toContain("✗ never two leaders at once");
  });

  it("says so when the seed passes", () => {
    const r = sim(["shrink", scenario("toy-leader-crash.yaml"), "--seed", "1", "--out", join(dir, "never.yaml")], dir);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe("sim: seed 1 passes: there is no failure to keep while shrinking");
    expect(existsSync(join(dir, "never.yaml"))).toBe(false);
  });
});

describe("bad input", () => {
  it("names the file, line, column and field of a malformed scenario in one line", () => {
    const p = join(dir, "bad.yaml");
    writeFileSync(p, "machine: toy-leader\nnodes: 3\ndurationMs: 1000\nfaults:\n  - at: 100\n    crash: n9\n");
    const r = sim(["run", p], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`sim: ${p}:6:12: faults[0].crash: unknown node "n9" (nodes: n1, n2, n3)\n`);
    expect(r.stdout).toBe("");
  });

  it("reports a YAML syntax error with its position", () => {
    const p = join(dir, "syntax.yaml");
    writeFileSync(p, "machine: toy-leader\nnodes: [a, b\ndurationMs: 100\n");
    const r = sim(["check", p], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`^sim: ${p.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}:\\d+:\\d+: YAML: .+\\n$`));
  });

  it("explains a missing file, an unknown command and a missing argument", () => {
    const missing = sim(["run", join(dir, "nope.yaml")], dir);
    expect(missing.code).toBe(2);
    expect(missing.stderr.trim()).toBe(`sim: cannot read scenario ${join(dir, "nope.yaml")}: no such file`);
    const unknown = sim(["fly"], dir);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("Unknown argument: fly");
    const noSeeds = sim(["explore", scenario("toy-leader-crash.yaml")], dir);
    expect(noSeeds.code).toBe(2);
    expect(noSeeds.stderr).toContain("Missing required argument: seeds");
  });

  it("validates every shipped scenario with sim check", () => {
    const files = ["toy-leader-crash.yaml", "toy-swarm.yaml", "failing/toy-split-brain.yaml", "failing/toy-vote-before-fsync.yaml"].map(scenario);
    const r = sim(["check", ...files], dir);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim().split("\n")).toHaveLength(files.length);
  });

  it("explains itself with --help", () => {
    const r = sim(["--help"], dir);
    expect(r.code).toBe(0);
    for (const c of ["run <scenario>", "explore <scenario>", "replay <trace>", "shrink <scenario>", "check <scenario..>"]) expect(r.stdout).toContain(c);
    expect(sim(["run", "--help"], dir).stdout).toContain("--detail");
  });
});

describe("interrupting", () => {
  it("stops on Ctrl-C, keeps the trace so far, prints the partial summary and exits 130", async () => {
    const p = join(dir, "long.yaml");
    writeFileSync(p, "machine: toy-leader\nnodes: 50\ndurationMs: 36000000\nconfig: { heartbeatMs: 20 }\n");
    const trace = join(dir, "long.jsonl");
    const child = spawn(process.execPath, [bin, "run", p, "--trace", trace], { cwd: dir, env: { ...process.env, NO_COLOR: "1" } });
    let stdout = "";
    child.stdout.on("data", (d: Buffer) => (stdout += String(d)));
    // Wait until the run is well under way (the trace file grows), then interrupt.
    await new Promise<void>((resolve) => {
      const poll = setInterval(() => {
        if (existsSync(trace) && readFileSync(trace).length > 1_000_000) {
          clearInterval(poll);
          resolve();
        }
      }, 50);
    });
    child.kill("SIGINT");
    const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
    expect(code).toBe(130);
    expect(stdout).toContain("interrupted by the user");
    const last = readFileSync(trace, "utf8").trimEnd().split("\n").at(-1) as string;
    expect(JSON.parse(last)).toMatchObject({ type: "end" });
  });
});
