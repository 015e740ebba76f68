// `faultline local up` and `down` as a user runs them: six background nodes become a cluster in
// one command, redis-cli -c and `faultline cluster check` find it healthy, a second `up` is
// refused, and `down` stops every process.
//
// The redis-cli step needs redis-cli (skipped with its reason when it is missing, required with
// CI=true); the rest needs only dist/. The nodes are detached processes of `faultline local up`,
// not children of this test: afterAll kills every pid local.json records, whatever happened.

import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { keySlot } from "../../core/cluster/slots.js";
import { isOurNode } from "../../node-runtime/local.js";
import { assertBuilt, clusterState, faultline, freePortBase, onPath, run, sleep } from "./support.js";

const redisCli = onPath("redis-cli");
const mustRun = process.env["CI"] === "true";
const cliSkip = redisCli === null && !mustRun ? "redis-cli is not on PATH (apt-get install redis-tools; CI=true makes it required)" : null;
if (cliSkip !== null) console.warn(`test/real/local.test.ts: the redis-cli step is skipped: ${cliSkip}`);

interface State {
  readonly nodes: readonly { readonly port: number; readonly pid: number | null; readonly log: string }[];
}

describe("faultline local up / down", () => {
  let dir = "";
  let base = 0;
  const ports = () => Array.from({ length: 6 }, (_, i) => base + i);
  const state = (): State => JSON.parse(readFileSync(join(dir, "local.json"), "utf8")) as State;

  beforeAll(async () => {
    assertBuilt();
    dir = mkdtempSync(join(tmpdir(), "faultline-local-"));
    base = await freePortBase(6);
  });

  afterAll(async () => {
    // Whatever happened, no node outlives the suite.
    let pids: { pid: number; port: number }[] = [];
    try {
      pids = state().nodes.flatMap((n) => (n.pid === null ? [] : [{ pid: n.pid, port: n.port }]));
    } catch {
      // no state file: nothing was started
    }
    for (const { pid, port } of pids) if (isOurNode(pid, port)) process.kill(pid, "SIGKILL");
    for (let i = 0; i < 50 && pids.some((p) => isOurNode(p.pid, p.port)); i++) await sleep(100);
    if (dir !== "") rmSync(dir, { recursive: true, force: true });
  });

  it("local up starts 3 masters × 2 in the background, forms the cluster and waits for cluster_state:ok", async () => {
    const up = await faultline(["local", "up", "--masters", "3", "--replicas", "1", "--dir", dir, "--port-base", String(base), "--node-timeout", "1000"]);
    expect(up.code, up.stdout + up.stderr).toBe(0);
    expect(up.stdout).toContain("[OK] All 16384 slots covered.");
    expect(up.stdout).toContain("Faultline cluster up: 3 masters, 1 replica each, every node cluster_state:ok.");
    expect(up.stdout).toContain(`  masters   127.0.0.1:${base}  127.0.0.1:${base + 1}  127.0.0.1:${base + 2}`);
    expect(up.stdout).toContain(`  replicas  127.0.0.1:${base + 3} (of ${base})  127.0.0.1:${base + 4} (of ${base + 1})  127.0.0.1:${base + 5} (of ${base + 2})`);
    expect(up.stdout).toContain(`Try it:     redis-cli -c -p ${base}`);
    expect(up.stdout).toContain(`Stop it:    faultline local down --dir ${dir}`);
    // The command has exited; the nodes run on, detached.
    expect(state().nodes.map((n) => [n.port, n.pid !== null && isOurNode(n.pid, n.port)])).toEqual(ports().map((p) => [p, true]));
    for (const p of ports()) expect(await clusterState(p)).toBe("ok");
  });

  it("refuses a second cluster in the same directory, and one on ports in use", async () => {
    const again = await faultline(["local", "up", "--dir", dir, "--port-base", String(base + 100)]);
    expect(again.code).toBe(1);
    expect(again.stderr).toBe(`[ERR] a local cluster is already up in ${dir} (ports ${ports().join(", ")}).\nStop it first: faultline local down --dir ${dir}\n`);
    const other = join(dir, "other");
    const taken = await faultline(["local", "up", "--dir", other, "--port-base", String(base + 3)]);
    expect(taken.code).toBe(1);
    expect(taken.stderr).toContain(`[ERR] ports in use on 127.0.0.1:\n  ${base + 3} (client port of node ${base + 3}): EADDRINUSE\n  ${base + 10003} (cluster bus port of node ${base + 3}): EADDRINUSE\n`);
  });

  it.skipIf(cliSkip !== null)(`redis-cli -c writes and reads keys in every shard${cliSkip === null ? "" : ` (skipped: ${cliSkip})`}`, async () => {
    if (redisCli === null) throw new Error("redis-cli is not on PATH, and CI=true requires this test");
    // Keys in each master's range (0-5460, 5461-10922, 10923-16383), asked through different nodes.
    const keys = ["a", "b", "c", "d", "e", "f", "g", "h"];
    expect(new Set(keys.map((k) => Math.min(2, Math.floor(keySlot(k) / 5461)))).size).toBe(3);
    for (const [i, k] of keys.entries()) {
      const set = await run(redisCli, ["-c", "-p", String(base + (i % 6)), "SET", k, `v-${k}`], 10_000);
      expect(set.stdout.trim(), set.stderr).toBe("OK");
    }
    for (const [i, k] of keys.entries()) {
      const get = await run(redisCli, ["-c", "-p", String(base + ((i + 1) % 3)), "GET", k], 10_000);
      expect(get.stdout.trim(), get.stderr).toBe(`v-${k}`);
    }
  });

  it("faultline cluster check and local status find it healthy", async () => {
    const check = await faultline(["cluster", "check", `127.0.0.1:${base + 4}`]);
    expect(check.code, check.stdout + check.stderr).toBe(0);
    expect(check.stdout).toContain("[OK] All nodes agree about slots configuration.");
    expect(check.stdout).toContain("[OK] All 16384 slots covered.");
    expect(check.stdout.match(/^M: /gm)?.length).toBe(3);
    expect(check.stdout.match(/^S: /gm)?.length).toBe(3);
    const status = await faultline(["local", "status", "--dir", dir]);
    expect(status.code, status.stdout + status.stderr).toBe(0);
    expect(status.stdout.match(/cluster_state:ok/g)?.length).toBe(6);
  });

  it("faultline cluster failover refuses a master, naming its replica, and promotes a replica in its master's place", async () => {
    const refused = await faultline(["cluster", "failover", `127.0.0.1:${base}`]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toBe(
      `[ERR] 127.0.0.1:${base} is a master. CLUSTER FAILOVER runs on a replica, which then takes its master's place; name one of its replicas: 127.0.0.1:${base + 3}\n`,
    );
    const failover = await faultline(["cluster", "failover", `127.0.0.1:${base + 3}`]);
    expect(failover.code, failover.stdout + failover.stderr).toBe(0);
    expect(failover.stdout).toContain(`Asked 127.0.0.1:${base + 3} (replica of 127.0.0.1:${base}) to fail over`);
    expect(failover.stdout).toMatch(new RegExp(`127\\.0\\.0\\.1:${base + 3} is now a master with slots \\[0-5460\\] \\(configEpoch \\d+\\)\\.`));
    const check = await faultline(["cluster", "check", `127.0.0.1:${base}`]);
    expect(check.code, check.stdout + check.stderr).toBe(0);
    expect(check.stdout).toMatch(new RegExp(`^S: [0-9a-f]{40} 127\\.0\\.0\\.1:${base}\\n`, "m"));
  });

  it("local down stops every node with SIGTERM (each logs a clean stop), and a second down has nothing to do", async () => {
    const pids = state().nodes.map((n) => ({ pid: n.pid as number, port: n.port }));
    const down = await faultline(["local", "down", "--dir", dir]);
    expect(down.code, down.stdout + down.stderr).toBe(0);
    for (const { pid, port } of pids) expect(down.stdout).toContain(`127.0.0.1:${port} (pid ${pid}): stopped (SIGTERM)`);
    expect(down.stdout).toContain("Stopped 6 nodes.");
    expect(pids.filter((p) => isOurNode(p.pid, p.port))).toEqual([]);
    for (const n of state().nodes) expect(readFileSync(join(dir, n.log), "utf8")).toMatch(/"type":"stopped"/);
    const again = await faultline(["local", "down", "--dir", dir]);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/^Nothing is running in .* \(stopped .*\)\.\n$/);
  });
});
