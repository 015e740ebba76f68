import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { CLUSTER_DEFAULTS } from "../core/cluster/types.js";
import { clusterConfig, ConfigError, type Directive, parseConfigText, parseSize, resolveSettings } from "./conf.js";

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
    [[enabled, flag("port", "abc")], "--port: 'port' must be an integer in 0..65535, got 'abc'"],
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

describe("client limits", () => {
  it("are redis-server's by default: maxclients 10000, timeout 0, 1gb query buffer, pubsub 32mb 8mb 60", () => {
    expect(resolveSettings([enabled], "").clientLimits).toEqual({ maxclients: 10000, idleTimeoutS: 0, queryBufferBytesMax: 1024 ** 3, pubsub: { hardBytes: 32 * 1024 ** 2, softBytes: 8 * 1024 ** 2, softSeconds: 60 } });
  });

  it.each([
    ["1gb", 1024 ** 3],
    ["512MB", 512 * 1024 ** 2],
    ["1k", 1000],
    ["1Kb", 1024],
    ["3m", 3_000_000],
    ["2g", 2_000_000_000],
    ["7b", 7],
    ["10", 10],
    ["0", 0],
  ])("reads the size %s as Redis's memtoull does", (text, bytes) => {
    expect(parseSize(text)).toBe(bytes);
  });

  it.each(["", "-1", "1.5mb", "1tb", "mb", "1 mb", "12345678901234567gb"])("refuses the size %j", (text) => {
    expect(parseSize(text)).toBeNull();
  });

  it("takes maxclients, timeout and client-query-buffer-limit", () => {
    const s = resolveSettings([enabled, flag("maxclients", "3"), flag("timeout", "5"), flag("client-query-buffer-limit", "64mb")], "");
    expect(s.clientLimits).toMatchObject({ maxclients: 3, idleTimeoutS: 5, queryBufferBytesMax: 64 * 1024 ** 2 });
  });

  it("reads client-output-buffer-limit as Redis does: classes in groups of four, in a file or on the command line, the last pubsub winning", () => {
    const file = parseConfigText("client-output-buffer-limit normal 0 0 0\nclient-output-buffer-limit replica 256mb 64mb 60\nclient-output-buffer-limit pubsub 32mb 8mb 60\n", "r.conf");
    const s = resolveSettings([enabled, ...file, { name: "client-output-buffer-limit", args: ["pubsub 4mb 1mb 5"], where: "--client-output-buffer-limit" }], "");
    expect(s.clientLimits.pubsub).toEqual({ hardBytes: 4 * 1024 ** 2, softBytes: 1024 ** 2, softSeconds: 5 });
    expect(s.warnings).toEqual(["r.conf:2: client-output-buffer-limit replica: replicas are fed over the cluster bus here; ignored"]);
    const multi = resolveSettings([enabled, { name: "client-output-buffer-limit", args: ["normal", "1mb", "0", "0", "pubsub", "0", "0", "0"], where: "--client-output-buffer-limit" }], "");
    expect(multi.clientLimits.pubsub).toEqual({ hardBytes: 0, softBytes: 0, softSeconds: 0 });
    expect(multi.warnings).toEqual(["--client-output-buffer-limit: client-output-buffer-limit normal: not supported; a normal client's reading pauses above 4 MiB of unsent output instead"]);
  });

  it.each([
    [["pubsub 32mb 8mb"], "--client-output-buffer-limit: Wrong number of arguments in buffer limit configuration."],
    [["master 1mb 1mb 1"], "--client-output-buffer-limit: Invalid client class specified in buffer limit configuration."],
    [["subscribers 1mb 1mb 1"], "--client-output-buffer-limit: Invalid client class specified in buffer limit configuration."],
    [["pubsub 32xb 8mb 60"], "--client-output-buffer-limit: Error in hard, soft or soft_seconds setting in buffer limit configuration."],
    [["pubsub 32mb 8mb -1"], "--client-output-buffer-limit: Error in hard, soft or soft_seconds setting in buffer limit configuration."],
  ])("refuses client-output-buffer-limit %j with Redis's words", (args, error) => {
    expect(() => resolveSettings([enabled, { name: "client-output-buffer-limit", args, where: "--client-output-buffer-limit" }], "")).toThrow(error);
  });

  it.each([
    [flag("maxclients", "0"), "--maxclients: 'maxclients' must be an integer in 1..2147483647, got '0'"],
    [flag("timeout", "-1"), "--timeout: 'timeout' must be an integer in 0..2147483647, got '-1'"],
    [flag("client-query-buffer-limit", "1kb"), "--client-query-buffer-limit: 'client-query-buffer-limit' must be a size of at least 1048576 bytes (1mb, 512mb, 1gb…), got '1kb'"],
    [flag("client-query-buffer-limit", "lots"), "got 'lots'"],
  ])("refuses %j", (d, error) => {
    expect(() => resolveSettings([enabled, d], "")).toThrow(error);
  });
});

describe("TLS and the bus secret", () => {
  const tlsFiles = [flag("tls-cert-file", "s.crt"), flag("tls-key-file", "s.key"), flag("tls-ca-cert-file", "ca.crt")];

  it("has no TLS by default, and warns about tls-* files nothing uses", () => {
    const s = resolveSettings([enabled, flag("tls-cert-file", "s.crt")], "");
    expect(s).toMatchObject({ tlsPort: 0, tlsCluster: false, tls: null, busSecret: null, announcePort: 6379 });
    expect(s.warnings).toEqual(["tls-cert-file: unused without tls-port or tls-cluster"]);
  });

  it("reads the tls-* directives with Redis's defaults, paths made absolute", () => {
    const s = resolveSettings([enabled, flag("port", "7000"), flag("tls-port", "7100"), ...tlsFiles], "");
    expect(s).toMatchObject({ port: 7000, tlsPort: 7100, announcePort: 7000, busPort: 17000, tlsCluster: false });
    expect(s.tls).toEqual({
      certFile: resolve("s.crt"),
      keyFile: resolve("s.key"),
      keyFilePass: null,
      clientCertFile: null,
      clientKeyFile: null,
      clientKeyFilePass: null,
      caCertFile: resolve("ca.crt"),
      caCertDir: null,
      dhParamsFile: null,
      authClients: "yes",
      minVersion: "TLSv1.2",
      maxVersion: "TLSv1.3",
      ciphers: null,
      ciphersuites: null,
      preferServerCiphers: false,
    });
    const t = resolveSettings([enabled, flag("tls-port", "7100"), ...tlsFiles, flag("tls-auth-clients", "Optional"), flag("tls-protocols", "tlsv1.3"), flag("tls-ciphersuites", "TLS_AES_128_GCM_SHA256"), flag("tls-key-file-pass", "pw")], "");
    expect(t.tls).toMatchObject({ authClients: "optional", minVersion: "TLSv1.3", maxVersion: "TLSv1.3", ciphersuites: "TLS_AES_128_GCM_SHA256", keyFilePass: "pw" });
  });

  it("makes a node with tls-cluster known by its tls-port, its bus at tls-port + 10000, and allows port 0 then", () => {
    const s = resolveSettings([enabled, flag("port", "0"), flag("tls-port", "7100"), flag("tls-cluster", "yes"), ...tlsFiles], "");
    expect(s).toMatchObject({ port: 0, tlsPort: 7100, announcePort: 7100, busPort: 17100, tlsCluster: true });
  });

  it.each([
    [[flag("tls-port", "7100")], "TLS (tls-port or tls-cluster) needs tls-cert-file and tls-key-file"],
    [[flag("tls-port", "7100"), flag("tls-cert-file", "s.crt"), flag("tls-key-file", "s.key")], "Either tls-ca-cert-file or tls-ca-cert-dir must be specified"],
    [[flag("tls-port", "7100"), ...tlsFiles, flag("tls-auth-clients", "maybe")], "--tls-auth-clients: 'tls-auth-clients' must be yes, no or optional, got 'maybe'"],
    [[flag("tls-port", "7100"), ...tlsFiles, flag("tls-protocols", "SSLv3")], "--tls-protocols: Invalid tls-protocols specified. Use a combination of 'TLSv1', 'TLSv1.1', 'TLSv1.2' and 'TLSv1.3'."],
    [[flag("tls-port", "7100"), ...tlsFiles, flag("tls-protocols", "TLSv1.1 TLSv1.3")], '--tls-protocols: tls-protocols "TLSv1.1 TLSv1.3": node:tls takes a range of versions, without holes (say TLSv1.1 TLSv1.2 TLSv1.3)'],
    [[flag("port", "0")], "port 0 and no tls-port: the node would have no client port"],
    [[flag("port", "0"), flag("tls-port", "7100"), ...tlsFiles], "port 0: without tls-cluster yes the node is known by its plain-text port; set tls-cluster yes (or a port)"],
    [[flag("tls-cluster", "yes"), ...tlsFiles], "tls-cluster yes: the node is known by its tls-port, so it needs one"],
    [[flag("port", "7000"), flag("tls-port", "7000"), ...tlsFiles], "port and tls-port are both 7000"],
  ] as const)("refuses %j", (directives, error) => {
    expect(() => resolveSettings([enabled, ...directives], "")).toThrow(error);
  });

  it("takes a bus secret as text or a file, not both, never empty, and warns about one on the command line", () => {
    const inFile = resolveSettings([enabled, ...parseConfigText("cluster-bus-secret s3cret\n", "r.conf")], "");
    expect(inFile.busSecret).toEqual({ text: "s3cret" });
    expect(inFile.warnings).toEqual([]);
    const cli = resolveSettings([enabled, flag("cluster-bus-secret", "s3cret")], "");
    expect(cli.warnings).toEqual(["--cluster-bus-secret: other users of this machine can read a secret on the command line (ps); prefer --cluster-bus-secret-file"]);
    expect(resolveSettings([enabled, flag("cluster-bus-secret-file", "secret.txt")], "").busSecret).toEqual({ file: resolve("secret.txt") });
    expect(() => resolveSettings([enabled, flag("cluster-bus-secret", "a"), flag("cluster-bus-secret-file", "b")], "")).toThrow("--cluster-bus-secret, --cluster-bus-secret-file: give cluster-bus-secret or cluster-bus-secret-file, not both");
    expect(() => resolveSettings([enabled, flag("cluster-bus-secret", "")], "")).toThrow("--cluster-bus-secret: 'cluster-bus-secret' is empty");
  });
});
