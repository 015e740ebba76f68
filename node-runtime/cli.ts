// The `faultline` command line: real nodes on real sockets.
//
// `faultline node` runs one cluster node, as `redis-server --cluster-enabled yes` does.
// `faultline cluster create|check|reshard|failover` are redis-cli --cluster's admin commands, and
// `faultline local up|down|status` runs a whole cluster on this machine in one command.
// `faultline raft node` runs one member of the Raft key-value store (raft-cli.ts).
//
// Exit status of `node`: 0 stopped by SIGTERM/SIGINT; 1 could not start or run (port in use, a
// data directory that is not ours, a failed write); 2 bad usage or configuration. Of `cluster` and
// `local`: 0 done; 1 failed or refused (a node unreachable or not empty, a check that found
// problems, an argument out of range, a usage error yargs reports).

import { basename, dirname, resolve } from "node:path";
import yargs, { type Argv } from "yargs";
import { hideBin } from "yargs/helpers";
import { VERSION } from "../sim/version.js";
import { clusterCheck, clusterCreate, clusterFailover, clusterReshard, type FailoverMode } from "./admin.js";
import { admin, EXIT, fatalExit, serve, settingsOrExit } from "./cli-common.js";
import { ConfigError, clusterConfig, type Directive, readConfigFile, resolveSettings } from "./conf.js";
import { RecoveryError } from "./disk.js";
import { NodeHost } from "./host.js";
import { LOCAL_DIR_DEFAULT, localDown, localStatus, localUp } from "./local.js";
import { NodeLog } from "./log.js";
import { raftCommands } from "./raft-cli.js";
import { type LoadedTls, loadBusSecret, loadTls, TlsError } from "./tls.js";
import { runView, ViewError } from "../viz/serve.js";

/** The node's options: redis-server's directive names, each taking one value (but MULTI_VALUE_OPTIONS). */
const NODE_OPTIONS = {
  port: "TCP port for clients (default 6379; 0: none, TLS only); the cluster bus listens on port + 10000",
  bind: "address to listen on (default 127.0.0.1)",
  "cluster-enabled": "must be yes: faultline node runs in cluster mode only",
  "cluster-node-timeout": "ms without a PONG before a node is PFAIL (default 15000)",
  "cluster-port": "cluster bus port (default port + 10000; peers always dial port + 10000)",
  "cluster-announce-ip": "IP other nodes and clients reach this node at (default: the bind address)",
  dir: "directory for nodes.conf (default: the current directory; created if missing)",
  logfile: "JSON-lines log file (default: stderr)",
  requirepass: "password clients must AUTH with (default: none)",
  "cluster-replica-validity-factor": "replicas disconnected longer than factor × node timeout do not fail over; 0 = always may (default 10)",
  "cluster-migration-barrier": "replicas a master keeps before one may migrate to an orphaned master (default 1)",
  "cluster-require-full-coverage": "yes|no: stop serving when some slot has no owner (default yes)",
  "cluster-allow-replica-migration": "yes|no: replicas may move to orphaned masters (default yes)",
  "replica-priority": "lower wins ties between replicas; 0 never fails over (default 100)",
  "cluster-replica-no-failover": "yes|no: never start an automatic failover (default no)",
  appendonly: "yes: keep the data in per-slot-range append-only files and snapshots under --dir (default no)",
  appendfsync: "always | everysec | no (default everysec): when appends are fsynced; always holds each reply until its fsync",
  maxclients: "connections beyond this, cluster bus links included, get -ERR max number of clients… and are closed (default 10000)",
  timeout: "close a client idle this many seconds; subscribers and blocked clients are exempt (default 0: never)",
  "client-query-buffer-limit": "close a client whose unparsed input exceeds this (default 1gb; 1k = 1000, 1kb = 1024, mb, gb…)",
  "client-output-buffer-limit": "'pubsub <hard> <soft> <soft seconds>' (default pubsub 32mb 8mb 60): disconnect a subscriber over hard, or over soft for longer than the seconds",
  "tls-port": "TLS port for clients (default 0: none)",
  "tls-cert-file": "PEM certificate the TLS port and the TLS bus present",
  "tls-key-file": "its PEM private key",
  "tls-key-file-pass": "the key's passphrase",
  "tls-client-cert-file": "certificate for outbound bus links (default tls-cert-file)",
  "tls-client-key-file": "its private key (default tls-key-file)",
  "tls-client-key-file-pass": "its passphrase",
  "tls-ca-cert-file": "PEM CA bundle that clients' and peers' certificates must be signed by",
  "tls-ca-cert-dir": "directory of PEM CA certificates (instead of or besides tls-ca-cert-file)",
  "tls-dh-params-file": "PEM DH parameters",
  "tls-auth-clients": "yes | no | optional (default yes): whether TLS clients must present a certificate signed by the CA",
  "tls-protocols": "TLS versions, e.g. \"TLSv1.2 TLSv1.3\" (the default); a contiguous range",
  "tls-ciphers": "OpenSSL cipher list for TLSv1.2 and below",
  "tls-ciphersuites": "OpenSSL TLSv1.3 suites (TLS_…)",
  "tls-prefer-server-ciphers": "yes|no: the server's cipher order wins (default no)",
  "tls-cluster": "yes: cluster bus links are TLS, both sides presenting certificates signed by the CA; the node is then known by its tls-port (default no)",
  "cluster-bus-secret": "shared secret every node of the cluster must prove on each bus link (Faultline's; visible in ps: prefer the file)",
  "cluster-bus-secret-file": "file holding the bus secret (its last line break is not part of it)",
} as const;

/** Options whose values are several words, collected into one directive (`--client-output-buffer-limit pubsub 32mb 8mb 60`). */
const MULTI_VALUE_OPTIONS: ReadonlySet<string> = new Set(["client-output-buffer-limit"]);

export async function cli(): Promise<void> {
  const parser = yargs(hideBin(process.argv))
    .scriptName("faultline")
    .usage("$0 <command> [options]\n\nRuns Faultline nodes on real TCP sockets, for redis-cli, redis-benchmark and Redis Cluster clients. The same protocols run in the simulator: npx sim --help")
    .wrap(null)
    .version(VERSION)
    .help()
    .alias("h", "help")
    .strict()
    .command(
      "node [config]",
      "run one Redis Cluster node (as redis-server --cluster-enabled yes)",
      (y: Argv) => nodeOptions(y),
      async (argv) => {
        await runNode(argv as unknown as Record<string, unknown>);
      },
    )
    .command("cluster", "administer a cluster: create, check, reshard, failover (as redis-cli --cluster)", (y: Argv) => clusterCommands(y))
    .command("local", "a whole cluster on this machine: up, down, status", (y: Argv) => localCommands(y))
    .command("raft", "the Raft key-value store on real processes: raft node (TCP between members, an HTTP API for clients)", (y: Argv) => raftCommands(y))
    .command(
      "view <log..>",
      "open nodes' logs (merged by time) or simulator traces in the trace viewer, or write one HTML file",
      (y: Argv) =>
        y
          .positional("log", { type: "string", array: true, demandOption: true, describe: "node logs (--logfile) or traces" })
          .option("out", { type: "string", requiresArg: true, describe: "write one self-contained HTML file here instead of serving on 127.0.0.1" })
          .option("port", { type: "number", requiresArg: true, describe: "port to serve on (default: any free port)" })
          .example("$0 view nodes/*.log", "serve the viewer for a local cluster's logs and print its URL"),
      async (argv) => {
        try {
          await runView({ files: (argv["log"] as unknown[]).map(String), out: argv["out"] as string | undefined, port: argv["port"] as number | undefined }, (line) => process.stdout.write(`${line}\n`));
        } catch (e) {
          if (!(e instanceof ViewError)) throw e;
          process.stderr.write(`faultline: ${e.message}\n`);
          process.exitCode = EXIT.usage;
        }
      },
    )
    .command("$0", false, () => {}, () => {
      parser.showHelp();
      process.exitCode = EXIT.usage;
    })
    .epilog(
      "A local cluster in one command (3 masters, 1 replica each, ports 7000-7005):\n" +
        "  faultline local up --masters 3 --replicas 1\n" +
        "  redis-cli -c -p 7000\n" +
        "  faultline local down\n\n" +
        "Or node by node:\n" +
        "  for p in 7000 7001 7002 7003 7004 7005; do\n" +
        "    faultline node --port $p --cluster-enabled yes --dir nodes/$p --logfile nodes/$p.log &\n" +
        "  done\n" +
        "  faultline cluster create 127.0.0.1:7000 127.0.0.1:7001 127.0.0.1:7002 \\\n" +
        "    127.0.0.1:7003 127.0.0.1:7004 127.0.0.1:7005 --replicas 1   # or redis-cli --cluster create",
    );
  await parser.parseAsync();
}

function nodeOptions(y: Argv): Argv {
  let out = y
    .usage(
      "$0 node [config] [options]\n\n" +
        "Runs one cluster node: a lone empty master until redis-cli --cluster create (or CLUSTER MEET, ADDSLOTS, REPLICATE) joins it to others.\n" +
        "The optional config file uses redis.conf syntax (`port 7000`, one directive a line); options given here override it.",
    )
    .positional("config", { type: "string", describe: "redis.conf-style config file" });
  for (const [name, describe] of Object.entries(NODE_OPTIONS)) out = out.option(name, { type: "string", describe, requiresArg: true, ...(MULTI_VALUE_OPTIONS.has(name) ? { array: true } : {}) });
  return out
    .example("$0 node --port 7000 --cluster-enabled yes --dir nodes/7000", "a node on 127.0.0.1:7000, bus on 17000")
    .example(
      "$0 node --cluster-enabled yes --port 0 --tls-port 7000 --tls-cluster yes --tls-cert-file node.crt --tls-key-file node.key --tls-ca-cert-file ca.crt --cluster-bus-secret-file bus.secret",
      "TLS only, on the client port and the bus, and a bus secret",
    );
}

/** The config file's directives, then the command line's (which win). */
function directivesOf(argv: Record<string, unknown>): { directives: Directive[]; configFile: string } {
  const configPath = typeof argv["config"] === "string" ? resolve(argv["config"]) : "";
  const directives = configPath === "" ? [] : readConfigFile(configPath);
  for (const name of Object.keys(NODE_OPTIONS)) {
    const v = argv[name];
    if (v === undefined) continue;
    if (MULTI_VALUE_OPTIONS.has(name)) {
      directives.push({ name, args: (Array.isArray(v) ? v : [v]).map(String), where: `--${name}` });
      continue;
    }
    // An option given twice arrives as a list; the last one wins, as in redis-server.
    const value = Array.isArray(v) ? v.at(-1) : v;
    directives.push({ name, args: [String(value)], where: `--${name}` });
  }
  return { directives, configFile: configPath };
}

async function runNode(argv: Record<string, unknown>): Promise<void> {
  const settings = settingsOrExit("faultline node", ConfigError, () => {
    const { directives, configFile } = directivesOf(argv);
    return resolveSettings(directives, configFile);
  });
  const address = `${settings.announceIp}:${settings.announcePort}`;
  const log = new NodeLog(address, settings.logfile);
  for (const w of settings.warnings) {
    log.event("warn", "config-warning", { warning: w });
    if (settings.logfile !== null) process.stderr.write(`faultline node: warning: ${w}\n`); // else the log line just said it
  }
  const fatal = fatalExit("faultline node", log, settings.logfile);

  // Certificates, keys and the bus secret are read once, now: a bad one stops the start.
  let tls: LoadedTls | null = null;
  let busSecret: Buffer | null = null;
  try {
    tls = settings.tls === null ? null : loadTls(settings.tls);
    busSecret = settings.busSecret === null ? null : loadBusSecret(settings.busSecret);
  } catch (e) {
    if (!(e instanceof TlsError)) throw e;
    fatal(e.message);
  }
  const host = new NodeHost({
    address,
    bind: settings.bind,
    port: settings.port,
    busPort: settings.busPort,
    dir: settings.dir,
    ignoreFiles: settings.logfile !== null && dirname(settings.logfile) === settings.dir ? new Set([basename(settings.logfile)]) : new Set(),
    config: clusterConfig(settings, VERSION, resolve(process.argv[1] ?? "faultline")),
    clientPort: { limits: settings.clientLimits, tls: tls === null || settings.tlsPort === 0 ? null : { port: settings.tlsPort, loaded: tls } },
    busSecurity: { tls: tls === null || !settings.tlsCluster ? null : { server: tls.busServer, client: tls.busClient }, secret: busSecret },
    log,
    onFatal: fatal,
  });
  const listening = [settings.port === 0 ? null : `${settings.bind}:${settings.port}`, settings.tlsPort === 0 ? null : `TLS ${settings.bind}:${settings.tlsPort}`].filter((p) => p !== null).join(" and ");
  await serve(host, log, fatal, {
    dir: settings.dir,
    isStartError: (e) => e instanceof RecoveryError,
    listenWhat: (failed) => `${settings.bind} port ${failed === settings.busPort ? `${settings.busPort} (cluster bus)` : failed === settings.tlsPort ? `${settings.tlsPort} (TLS)` : String(settings.port)}`,
    startLine: `faultline node ${address} listening on ${listening} (cluster bus ${settings.bind}:${settings.busPort}${settings.tlsCluster ? ", TLS" : ""}${settings.busSecret !== null ? ", secret" : ""}) · dir ${settings.dir} · log ${settings.logfile ?? "stderr"}`,
  });
}

// ---------------------------------------------------------------------------------------------
// faultline cluster …, faultline local …
// ---------------------------------------------------------------------------------------------

function str(argv: Record<string, unknown>, name: string): string {
  return String(argv[name]);
}

function clusterCommands(y: Argv): Argv {
  return y
    .usage(
      "$0 cluster <command>\n\n" +
        "What redis-cli --cluster does, for users without redis-cli. Works on Faultline nodes and on redis-server in cluster mode; " +
        "nodes are named host:port, and a node in --from/--to also by its id (from CLUSTER NODES; 8+ leading characters do).",
    )
    .command(
      "create <nodes..>",
      "make a cluster of empty nodes: the first nodes/(replicas+1) become masters with the slots split evenly, the rest their replicas",
      (c: Argv) =>
        c
          .positional("nodes", { type: "string", array: true, describe: "host:port of each node (at least 3 masters' worth)" })
          .option("replicas", { type: "number", default: 0, describe: "replicas per master" })
          .option("yes", { type: "boolean", default: false, describe: "do not ask before changing the nodes" })
          .example("$0 cluster create 127.0.0.1:7000 127.0.0.1:7001 127.0.0.1:7002 127.0.0.1:7003 127.0.0.1:7004 127.0.0.1:7005 --replicas 1", "3 masters with a replica each"),
      (argv) =>
        admin(async (out) => {
          await clusterCreate({ addresses: (argv["nodes"] as string[]).map(String), replicas: argv["replicas"] as number, yes: argv["yes"] as boolean }, out);
        }),
    )
    .command(
      "check <node>",
      "ask every node of the cluster for its CLUSTER NODES: do they agree, are all 16384 slots covered, is any slot open (exit 1 if not all fine)",
      (c: Argv) => c.positional("node", { type: "string", describe: "host:port of any node of the cluster" }),
      (argv) => admin(async (out) => (await clusterCheck(str(argv, "node"), out)).ok),
    )
    .command(
      "reshard <node>",
      "move slots (and their keys, with MIGRATE) from one master to another while clients keep working",
      (c: Argv) =>
        c
          .positional("node", { type: "string", describe: "host:port of any node of the cluster" })
          .option("from", { type: "string", demandOption: true, describe: "the master giving slots: its id or host:port" })
          .option("to", { type: "string", demandOption: true, describe: "the master receiving them: its id or host:port" })
          .option("slots", { type: "number", demandOption: true, describe: "how many slots to move (the source's lowest)" })
          .option("pipeline", { type: "number", default: 10, describe: "keys per MIGRATE" })
          .option("timeout", { type: "number", default: 60000, describe: "MIGRATE timeout, ms" })
          .option("yes", { type: "boolean", default: false, describe: "do not ask before moving" })
          .example("$0 cluster reshard 127.0.0.1:7000 --from 127.0.0.1:7000 --to 127.0.0.1:7001 --slots 500 --yes", ""),
      (argv) =>
        admin(async (out) => {
          await clusterReshard(
            { entry: str(argv, "node"), from: str(argv, "from"), to: str(argv, "to"), slots: argv["slots"] as number, yes: argv["yes"] as boolean, pipeline: argv["pipeline"] as number, migrateTimeoutMs: argv["timeout"] as number },
            out,
          );
        }),
    )
    .command(
      "failover <node>",
      "make a replica take its master's place (CLUSTER FAILOVER), and wait until it has",
      (c: Argv) =>
        c
          .positional("node", { type: "string", describe: "host:port of the replica to promote" })
          .option("force", { type: "boolean", describe: "do not wait for the master to agree (it is down): an election still runs" })
          .option("takeover", { type: "boolean", describe: "no master, no election: take the slots now (last resort)" })
          .conflicts("force", "takeover"),
      (argv) =>
        admin(async (out) => {
          const mode: FailoverMode = argv["takeover"] === true ? "takeover" : argv["force"] === true ? "force" : "default";
          await clusterFailover(str(argv, "node"), mode, out);
        }),
    )
    .demandCommand(1, "Name a command: create, check, reshard or failover (faultline cluster --help).");
}

function localCommands(y: Argv): Argv {
  const dirOption = { type: "string", default: LOCAL_DIR_DEFAULT, describe: "where the nodes' data, logs and local.json live" } as const;
  return y
    .usage("$0 local <command>\n\nA Faultline cluster on 127.0.0.1, started in the background with one command and stopped with another.")
    .command(
      "up",
      "start masters × (1 + replicas) nodes in the background, form the cluster, wait until every node is cluster_state:ok",
      (c: Argv) =>
        c
          .option("masters", { type: "number", default: 3, describe: "masters (3 at least)" })
          .option("replicas", { type: "number", default: 1, describe: "replicas per master" })
          .option("dir", dirOption)
          .option("port-base", { type: "number", default: 7000, describe: "the first client port; nodes take consecutive ports, each bus at port + 10000" })
          .option("node-timeout", { type: "number", default: 1000, describe: "cluster-node-timeout, ms (a dead master is replaced a few node timeouts later)" })
          .example("$0 local up --masters 3 --replicas 1", "six nodes on 127.0.0.1:7000-7005"),
      (argv) =>
        admin((out) =>
          localUp(
            {
              masters: argv["masters"] as number,
              replicas: argv["replicas"] as number,
              dir: str(argv, "dir"),
              portBase: argv["port-base"] as number,
              nodeTimeoutMs: argv["node-timeout"] as number,
              launcher: [process.execPath, resolve(process.argv[1] ?? "faultline")],
            },
            out,
          ),
        ),
    )
    .command(
      "down",
      "stop the local cluster's nodes (SIGTERM, then SIGKILL after 10 s); logs are kept",
      (c: Argv) => c.option("dir", dirOption),
      (argv) => admin((out) => localDown(str(argv, "dir"), out)),
    )
    .command(
      "status",
      "which nodes of the local cluster run, their role and cluster_state (exit 1 if any is down)",
      (c: Argv) => c.option("dir", dirOption),
      (argv) => admin((out) => localStatus(str(argv, "dir"), out)),
    )
    .demandCommand(1, "Name a command: up, down or status (faultline local --help).");
}
