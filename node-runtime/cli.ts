// The `faultline` command line: real nodes on real sockets.
//
// `faultline node` runs one cluster node, as `redis-server --cluster-enabled yes` does; form a
// cluster of them with `redis-cli --cluster create`.
//
// Exit status: 0 stopped by SIGTERM/SIGINT; 1 could not start or run (port in use, a data
// directory that is not ours, a failed write); 2 bad usage or configuration.

import { basename, dirname, resolve } from "node:path";
import yargs, { type Argv } from "yargs";
import { hideBin } from "yargs/helpers";
import { VERSION } from "../sim/version.js";
import { ConfigError, clusterConfig, type Directive, readConfigFile, resolveSettings, type NodeSettings } from "./conf.js";
import { RecoveryError } from "./disk.js";
import { NodeHost } from "./host.js";
import { NodeLog } from "./log.js";

const EXIT = { stopped: 0, failed: 1, usage: 2 } as const;

/** The node's options: redis-server's directive names, each taking one value. */
const NODE_OPTIONS = {
  port: "TCP port for clients (default 6379); the cluster bus listens on port + 10000",
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
  appendonly: "accepted; AOF is not implemented yet (a warning is printed)",
  appendfsync: "accepted; AOF is not implemented yet (a warning is printed)",
} as const;

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
    .command("$0", false, () => {}, () => {
      parser.showHelp();
      process.exitCode = EXIT.usage;
    })
    .epilog(
      "Form a cluster of six nodes:\n" +
        "  for p in 7000 7001 7002 7003 7004 7005; do\n" +
        "    faultline node --port $p --cluster-enabled yes --dir nodes/$p --logfile nodes/$p.log &\n" +
        "  done\n" +
        "  redis-cli --cluster create 127.0.0.1:7000 127.0.0.1:7001 127.0.0.1:7002 \\\n" +
        "    127.0.0.1:7003 127.0.0.1:7004 127.0.0.1:7005 --cluster-replicas 1",
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
  for (const [name, describe] of Object.entries(NODE_OPTIONS)) out = out.option(name, { type: "string", describe, requiresArg: true });
  return out.example("$0 node --port 7000 --cluster-enabled yes --dir nodes/7000", "a node on 127.0.0.1:7000, bus on 17000");
}

/** The config file's directives, then the command line's (which win). */
function directivesOf(argv: Record<string, unknown>): { directives: Directive[]; configFile: string } {
  const configPath = typeof argv["config"] === "string" ? resolve(argv["config"]) : "";
  const directives = configPath === "" ? [] : readConfigFile(configPath);
  for (const name of Object.keys(NODE_OPTIONS)) {
    const v = argv[name];
    if (v === undefined) continue;
    // An option given twice arrives as a list; the last one wins, as in redis-server.
    const value = Array.isArray(v) ? v.at(-1) : v;
    directives.push({ name, args: [String(value)], where: `--${name}` });
  }
  return { directives, configFile: configPath };
}

async function runNode(argv: Record<string, unknown>): Promise<void> {
  let settings: NodeSettings;
  try {
    const { directives, configFile } = directivesOf(argv);
    settings = resolveSettings(directives, configFile);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    process.stderr.write(`faultline node: ${e.message}\n`);
    process.exit(EXIT.usage);
  }
  const address = `${settings.announceIp}:${settings.port}`;
  const log = new NodeLog(address, settings.logfile);
  for (const w of settings.warnings) {
    log.event("warn", "config-warning", { warning: w });
    if (settings.logfile !== null) process.stderr.write(`faultline node: warning: ${w}\n`); // else the log line just said it
  }
  const fatal = (why: string): never => {
    log.event("fatal", "fatal", { error: why });
    log.flush();
    if (settings.logfile !== null) process.stderr.write(`faultline node: ${why}\n`); // else the log line just said it
    process.exit(EXIT.failed);
  };
  process.on("uncaughtException", (e) => fatal(`internal error (a bug in faultline): ${e.stack ?? e.message}`));

  const host = new NodeHost({
    address,
    bind: settings.bind,
    port: settings.port,
    busPort: settings.busPort,
    dir: settings.dir,
    ignoreFiles: settings.logfile !== null && dirname(settings.logfile) === settings.dir ? new Set([basename(settings.logfile)]) : new Set(),
    config: clusterConfig(settings, VERSION, resolve(process.argv[1] ?? "faultline")),
    log,
    onFatal: fatal,
  });
  try {
    await host.start();
  } catch (e) {
    if (e instanceof RecoveryError) fatal(e.message);
    if (isErrno(e) && e.syscall === "listen") {
      const port = (e as { port?: number }).port === settings.busPort ? `${settings.busPort} (cluster bus)` : String(settings.port);
      fatal(`cannot listen on ${settings.bind} port ${port}: ${e.code}`);
    }
    if (isErrno(e)) fatal(`cannot use ${settings.dir}: ${e.message}`);
    throw e;
  }
  process.stdout.write(
    `faultline node ${address} listening on ${settings.bind}:${settings.port} (cluster bus ${settings.bind}:${settings.busPort}) · dir ${settings.dir} · log ${settings.logfile ?? "stderr"}\n`,
  );

  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) process.exit(EXIT.failed); // a second signal: stop now
    stopping = true;
    log.event("info", "signal", { signal });
    host.stop().then(
      () => process.exit(EXIT.stopped),
      (e: unknown) => fatal(`shutdown failed: ${e instanceof Error ? e.message : String(e)}`),
    );
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
}

function isErrno(e: unknown): e is NodeJS.ErrnoException {
  return e instanceof Error && typeof (e as NodeJS.ErrnoException).code === "string";
}
