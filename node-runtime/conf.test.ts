import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { CLUSTER_DEFAULTS } from "../core/cluster/types.js";
import { clusterConfig, ConfigError, type Directive, parseConfigText, resolveSettings } from "./conf.js";

const flag = (name: string, value: string): Directive => ({ name, args: [value], where: `--${name}` });
const enabled = flag("cluster-enabled", "yes");

describe("config file", () => {
  it("splits lines with Redis's quoting, skips comments and blank lines, lower-cases names", () => {
    const text = '# a comment\n\nPort 7000\n  requirepass "a b\\x41"\nbind 127.0.0.1 -::1\nlogfile \'\'\n';
    expect(parseConfigText(text, "r.conf")).toEqual([
      { name: "port", args: ["7000"], where: "r.conf:3" },
      { name: "requirepass", args: ["a bA"], where: "r.conf:4" },
      { name: "bind", args: ["127.0.0.1", "-::1"], where: "r.conf:5" },
      { name: "logfile", args: [""], where: "r.conf:6" },
    ]);
  });

  it("refuses unbalanced quotes with the line", () => {
    expect(() => parseConfigText('port 1\nrequirepass "x\n', "r.conf")).toThrow("r.conf:2: unbalanced quotes in configuration line");
  });
});

describe("resolveSettings", () => {
  it("has redis-server's defaults, with Faultline's bind and the bus at port + 10000", () => {
    const s = resolveSettings([enabled], "");
    expect(s).toMatchObject({
      port: 6379,
      bind: "127.0.0.1",
      announceIp: "127.0.0.1",
      busPort: 16379,
      dir: resolve("."),
      logfile: null,
      nodeTimeoutMs: 15000,
      replicaValidityFactor: 10,
      migrationBarrier: 1,
      allowReplicaMigration: true,
      requireFullCoverage: true,
      replicaPriority: 100,
      nofailover: false,
      requirepass: "",
      warnings: [],
    });
  });

  it("lets the last occurrence win (the command line comes after the file) and reads old names", () => {
    const file = parseConfigText("port 7000\ncluster-node-timeout 5000\ncluster-slave-validity-factor 0\nslave-priority 7\ncluster-enabled yes\n", "r.conf");
    const s = resolveSettings([...file, flag("port", "7001"), flag("cluster-require-full-coverage", "NO"), flag("dir", "/tmp/x"), flag("logfile", "n.log")], "/r.conf");
    expect(s).toMatchObject({ port: 7001, busPort: 17001, nodeTimeoutMs: 5000, replicaValidityFactor: 0, replicaPriority: 7, requireFullCoverage: false, dir: "/tmp/x", logfile: resolve("n.log"), configFile: "/r.conf" });
  });

  it.each([
    [[], "faultline node runs in cluster mode only: pass --cluster-enabled yes (or put 'cluster-enabled yes' in the config file)"],
    [[flag("cluster-enabled", "no")], "--cluster-enabled: cluster-enabled no is not supported: faultline node runs in cluster mode only"],
    [[enabled, flag("port", "abc")], "--port: 'port' must be an integer in 1..65535, got 'abc'"],
    [[enabled, flag("port", "60000")], "port 60000: the cluster bus port would be 70000, over 65535 (use a port below 55536)"],
    [[enabled, flag("cluster-node-timeout", "0")], "--cluster-node-timeout: 'cluster-node-timeout' must be an integer in 1..2147483647, got '0'"],
    [[enabled, flag("cluster-allow-replica-migration", "maybe")], "--cluster-allow-replica-migration: 'cluster-allow-replica-migration' must be yes or no, got 'maybe'"],
    [[enabled, { name: "dir", args: ["a", "b"], where: "r.conf:9" }], "r.conf:9: 'dir' takes one argument"],
    [[enabled, flag("bind", "0.0.0.0")], "bind 0.0.0.0 listens on every address: say which one other nodes and clients reach with --cluster-announce-ip"],
  ] as const)("refuses %j", (directives, error) => {
    expect(() => resolveSettings(directives, "")).toThrow(ConfigError);
    expect(() => resolveSettings(directives, "")).toThrow(error);
  });

  it("takes appendonly/appendfsync; warns about directives it does not implement, extra bind addresses and a moved bus port", () => {
    const file = parseConfigText("save 900 1\nappendonly yes\nappendfsync always\nbind 0.0.0.0 ::\ncluster-announce-ip 10.0.0.5\ncluster-port 20000\n", "r.conf");
    const s = resolveSettings([enabled, ...file, flag("port", "7000")], "");
    expect(s.warnings).toEqual([
      "r.conf:1: 'save' is not supported by faultline node; ignored",
      "cluster-port 20000: other nodes still dial port + 10000 = 17000 (addresses carry no bus port yet); use this only behind a forwarder",
      "r.conf:4: bind: only the first address (0.0.0.0) is used",
    ]);
    expect(s).toMatchObject({ bind: "0.0.0.0", announceIp: "10.0.0.5", busPort: 20000, appendonly: true, appendfsync: "always" });
    expect(resolveSettings([enabled, flag("appendonly", "no")], "").warnings).toEqual([]);
    expect(() => resolveSettings([enabled, flag("appendfsync", "sometimes")], "")).toThrow("'appendfsync' must be always, everysec or no, got 'sometimes'");
  });
});

describe("clusterConfig", () => {
  it("is Redis's defaults with the settings, no bootstrap, and this process as the host", () => {
    const s = resolveSettings([enabled, flag("cluster-node-timeout", "1000"), flag("requirepass", "pw")], "/etc/r.conf");
    const c = clusterConfig(s, "9.9.9", "/bin/faultline.js");
    expect(c).toMatchObject({ ...CLUSTER_DEFAULTS, nodeTimeoutMs: 1000, requirepass: "pw", bootstrap: null, host: { faultlineVersion: "9.9.9", processId: process.pid, executable: "/bin/faultline.js", configFile: "/etc/r.conf" } });
    expect(c.host.os).toMatch(/^\S+ \S+ \S+$/);
  });
});
