// The trace viewer in a real browser: Debian's chromium, headless, driven by playwright-core,
// on the page `sim view` serves. A master crashes for good (so the end of the trace shows the
// failover); the test plays to the end, reads the cluster's state from the DOM's data-*
// attributes, seeks back, hides a message type, and saves screenshots under test-artifacts/.
// Without chromium it skips and says why, except under CI=true, where it fails.
// `npm test` builds first (pretest), so dist/ holds the current page.

import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const repo = join(import.meta.dirname, "..", "..");
const sim = join(repo, "bin", "sim.js");
const artifacts = join(repo, "test-artifacts");

/** master-crash.yaml without the restart, and shorter: the run ends with n1 dead and n4 promoted. */
const SCENARIO = `# Goal: the viewer test's trace: a master crashes and stays down; its replica takes over.
# Method: master-crash.yaml's cluster, workload and crash at 5 s, without the restart; 9 s in all.
name: master-crash-for-good
machine: redis-cluster
nodes: 6
seed: 1
durationMs: 9000
config:
  topology: { masters: 3, replicasPerMaster: 1 }
  nodeTimeoutMs: 1000
network:
  latency: { dist: uniform, minMs: 0.2, maxMs: 2 }
workload:
  clients: 3
  thinkMs: 20
  timeoutMs: 1000
faults:
  - at: 5000
    crash: n1
`;

function chromiumPath(): string | null {
  const r = spawnSync("sh", ["-c", "command -v chromium"], { encoding: "utf8" });
  return r.status === 0 ? r.stdout.trim() : null;
}

const executable = chromiumPath();
const ci = process.env["CI"] === "true";
if (executable === null && !ci) console.warn("test/viz/viewer.test.ts skipped: no chromium on PATH (apt-get install chromium)");

describe.skipIf(executable === null && !ci)("the trace viewer in headless chromium", () => {
  let server: ChildProcess;
  let browser: Browser;
  let page: Page;
  let url: string;
  let trace: string;
  let dir: string;

  beforeAll(async () => {
    if (executable === null) throw new Error("CI=true and no chromium on PATH: install it with apt-get install chromium");
    dir = mkdtempSync(join(tmpdir(), "viz-"));
    writeFileSync(join(dir, "scenario.yaml"), SCENARIO);
    trace = join(dir, "trace.jsonl");
    const run = spawnSync(process.execPath, [sim, "run", join(dir, "scenario.yaml"), "--trace", trace], { encoding: "utf8" });
    expect(run.status, run.stdout + run.stderr).toBe(0);
    server = spawn(process.execPath, [sim, "view", trace, "--port", "0"], { stdio: ["ignore", "pipe", "pipe"] });
    url = await new Promise<string>((resolve, reject) => {
      let out = "";
      server.stdout?.on("data", (b: Buffer) => {
        out += b.toString();
        const m = /http:\/\/127\.0\.0\.1:\d+\//.exec(out);
        if (m !== null) resolve(m[0]);
      });
      server.once("exit", (code) => reject(new Error(`sim view exited with ${code}: ${out}`)));
    });
    mkdirSync(artifacts, { recursive: true });
    browser = await chromium.launch({ executablePath: executable, headless: true, args: ["--no-sandbox"] });
    page = await browser.newPage({ viewport: { width: 1400, height: 1300 } });
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(url);
    await page.waitForSelector("body[data-ready=true]", { timeout: 30_000 });
    expect(errors).toEqual([]);
  });

  afterAll(async () => {
    await browser?.close();
    server?.kill("SIGINT");
  });

  const node = (id: string) => page.locator(`[data-testid=node][data-node=${id}]`);
  const attr = async (id: string, name: string): Promise<string> => (await node(id).getAttribute(name)) ?? "";
  const now = async (): Promise<number> => Number(await page.locator("body").getAttribute("data-t"));

  it("plays to the end: n1 (killed) shows FAIL, n4 is master with the higher configEpoch", async () => {
    await page.selectOption("[data-testid=speed]", "4000");
    await page.click("[data-testid=play]");
    // Wait for the end itself: the button may still read "not playing" right after the click.
    await expect.poll(() => now(), { timeout: 30_000 }).toBe(9000);
    await page.waitForSelector("[data-testid=play][data-playing=false]", { timeout: 30_000 });
    expect((await attr("n1", "data-flags")).split(" ")).toEqual(expect.arrayContaining(["fail", "crashed"]));
    expect(await attr("n4", "data-role")).toBe("master");
    expect(await attr("n4", "data-flags")).toBe("");
    expect(Number(await attr("n4", "data-config-epoch"))).toBeGreaterThan(Number(await attr("n1", "data-config-epoch")));
    expect(await page.locator("[data-testid=slot-segment][data-lo='0']").getAttribute("data-owner")).toBe("n4");
    await page.click("[data-testid=node][data-node=n1]");
    await expect.poll(() => page.locator("[data-testid=details] tr[data-field='FAIL at'] td").textContent()).toBe("n2, n3, n4, n5, n6");
    expect(decodeURIComponent(new URL(page.url()).hash)).toContain("node=n1");
    await page.screenshot({ path: join(artifacts, "viewer-end.png"), fullPage: true });
  });

  it("seeks back: before the crash n1 is a healthy master and n4 its replica", async () => {
    await page.locator("[data-testid=scrubber]").evaluate((el: HTMLInputElement) => {
      el.value = String((4000 / 9000) * 1000);
      el.dispatchEvent(new Event("input", { bubbles: true }));
    });
    await expect.poll(now).toBeCloseTo(4000, 0);
    expect(await attr("n1", "data-role")).toBe("master");
    expect(await attr("n1", "data-flags")).toBe("");
    expect(await attr("n4", "data-role")).toBe("replica");
    expect(await page.locator("[data-testid=slot-segment][data-lo='0']").getAttribute("data-owner")).toBe("n1");
    expect(new URL(page.url()).hash).toMatch(/t=4000/);
    await page.screenshot({ path: join(artifacts, "viewer-before-crash.png"), fullPage: true });
  });

  it("a key-event jump lands on the crash", async () => {
    await page.keyboard.press("Shift+ArrowRight");
    await expect.poll(now).toBe(5000);
    expect(await attr("n1", "data-flags")).toBe("crashed");
  });

  it("hiding a message type removes its arrows and keeps the others", async () => {
    const arrows = (type: string) => page.locator(`[data-testid=arrow][data-msg-type=${type}], [data-testid=st-arrow][data-msg-type=${type}]`).count();
    expect(await arrows("ping")).toBeGreaterThan(0);
    expect(await arrows("stream")).toBeGreaterThan(0);
    await page.click("[data-testid=toggle-ping]");
    await expect.poll(() => arrows("ping")).toBe(0);
    expect(await arrows("stream")).toBeGreaterThan(0);
    expect(decodeURIComponent(new URL(page.url()).hash)).toContain("hide=ping");
    await page.screenshot({ path: join(artifacts, "viewer-no-ping.png"), fullPage: true });
  });

  it("the space-time diagram zooms with the wheel, seeks on click, and z resets it", async () => {
    const box = await page.locator("[data-testid=spacetime]").boundingBox();
    if (box === null) throw new Error("no space-time diagram");
    await page.mouse.move(box.x + box.width * 0.6, box.y + box.height / 2);
    await page.mouse.wheel(0, -600);
    await expect.poll(() => decodeURIComponent(new URL(page.url()).hash)).toMatch(/win=\d/);
    const [w0, w1] = (/win=([\d.]+),([\d.]+)/.exec(decodeURIComponent(new URL(page.url()).hash)) ?? []).slice(1).map(Number) as [number, number];
    expect(w1 - w0).toBeLessThan(9000);
    const before = await now();
    await page.mouse.click(box.x + box.width * 0.9, box.y + box.height / 2);
    await expect.poll(now).not.toBe(before);
    // The click lands inside the zoomed window, 90% of the way across the plot.
    expect(await now()).toBeGreaterThan(w0 + (w1 - w0) * 0.8);
    expect(await now()).toBeLessThan(w1);
    await page.keyboard.press("z");
    await expect.poll(() => new URL(page.url()).hash).not.toContain("win=");
  });

  it("the --out report opens from disk with no server, shows the same cluster and marks a finding", async () => {
    const out = join(dir, "report.html");
    const result = join(dir, "result.json");
    writeFileSync(result, JSON.stringify({ failures: [{ kind: "invariant", name: "wait-durable", atMs: 6000, message: "a confirmed write is gone" }] }));
    const r = spawnSync(process.execPath, [sim, "view", trace, result, "--out", out], { encoding: "utf8" });
    expect(r.status, r.stderr).toBe(0);
    const report = await browser.newPage({ viewport: { width: 1400, height: 1300 } });
    await report.goto(`file://${out}#t=9000`);
    await report.waitForSelector("body[data-ready=true]");
    expect(await report.locator("[data-testid=node]").count()).toBe(6);
    expect(await report.locator("[data-testid=node][data-node=n1]").getAttribute("data-flags")).toBe("fail crashed");
    expect(await report.locator("[data-testid=finding] title").textContent()).toBe("invariant wait-durable: a confirmed write is gone");
    await report.close();
  });
});
