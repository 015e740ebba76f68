// `faultline raft …`: the Raft store's members as real processes.
//
//   faultline raft node --id n1 --listen 127.0.0.1:7101 --http 127.0.0.1:8101 \
//     --peers n1=127.0.0.1:7101/8101,n2=127.0.0.1:7102/8102,… --dir data/n1
//
// Exit status of `raft node`: 0 stopped by SIGTERM/SIGINT; 1 could not start or run (a port in
// use, a damaged log, a failed write); 2 bad usage.

import { resolve } from "node:path";
import type { Argv } from "yargs";
import type { Out } from "./admin.js";
import { admin, fatalExit, serve, settingsOrExit } from "./cli-common.js";
import { NodeLog } from "./log.js";
import { type RaftOptions, RaftUsageError, resolveRaftSettings, formatHostPort } from "./raft-config.js";
import { RaftHost } from "./raft-host.js";
import { RAFT_LOCAL_DIR_DEFAULT, raftLocalDown, raftLocalStatus, raftLocalUp } from "./raft-local.js";
import { RaftDiskError } from "./raft-records.js";

const NODE_OPTIONS = {
  id: "this member's id, as the others name it in --peers (e.g. n1)",
  listen: "host:port where the other members connect (Raft messages over TCP)",
  http: "host:port of the HTTP API for clients",
  peers: "every member: id=host:raftPort/httpPort, comma-separated (this one may be listed too); the HTTP ports let members redirect clients to the leader",
  dir: "where this member keeps raft-log and raft-snapshot (created if missing)",
  logfile: "JSON-lines log file (default: stderr)",
  "log-level": "debug | info | warn | error (default info; info logs every Raft event, warn only problems)",
  "election-timeout": "min-max ms a follower waits for a leader before it campaigns (default 150-300)",
  heartbeat: "ms between a leader's heartbeats; below the election timeout's minimum (default 50)",
  "snapshot-every": "take a snapshot and compact the log every N applied entries (default 1000; 0 never)",
  "initial-voters": "the first configuration's voters, comma-separated (default: every member in --peers); a member joining an existing cluster later is started with the cluster's original voters here and added with POST /membership/add",
  "request-timeout": "ms an HTTP request waits for the cluster before it is answered 503 outcome-unknown (writes) or 504 (reads) (default 5000)",
  "pre-vote": "yes|no: ask for pre-votes before an election (default yes)",
  "check-quorum": "yes|no: a leader that does not hear from a majority steps down; lease reads need it (default yes)",
} as const;

const API_HELP =
  "HTTP API (JSON; a follower answers 307 not-leader, Location: the same URL on the leader, so curl -L follows it):\n" +
  "  GET    /kv/<key>[?lease=1]          linearizable read (ReadIndex; lease=1: the leader's lease)   200 {key,value,modIndex,...} | 404\n" +
  "  GET    /kv?prefix=P[&after=K&limit=N]  keys under a prefix                                     200 {index,kvs,more}\n" +
  "  PUT    /kv/<key>   (body: the value)                                                           200 {index,prev}\n" +
  "  DELETE /kv/<key>                                                                               200 {index,prev}\n" +
  '  POST   /kv/<key>/cas  {"expected":"old"|null,"value":"new"|null}                                200 {index,prev,swapped}\n' +
  "  POST   /session                     open a session for exactly-once writes                     201 {clientId}\n" +
  "  DELETE /session/<id>\n" +
  "  GET    /status, GET /membership\n" +
  '  POST   /membership/add {"id":"n6","addr":"127.0.0.1:7106/8106"}   POST /membership/remove {"id":"n6"}\n' +
  '  POST   /leadership/transfer {"to":"n2"}\n' +
  "Writes with headers X-Client-Id: <session> and X-Seq: <1,2,…> apply once however often they are retried; without them a retry may apply twice.\n" +
  "Errors are {error,message}: 503 outcome-unknown means the write may or may not have applied (retry it under the same X-Seq); " +
  "503 no-leader and 429 busy mean it did not (retry); 410 session-unknown: the outcome is unknown, open a new session.";

export function raftCommands(y: Argv): Argv {
  return y
    .usage("$0 raft <command>\n\nThe Raft store (core/raft: a replicated key-value store with sessions, CAS, ReadIndex and lease reads) on real processes.")
    .command("node", "run one member of a Raft store: TCP to the other members, HTTP for clients", (c: Argv) => nodeOptions(c), async (argv) => runRaftNode(argv as unknown as Record<string, unknown>))
    .command("local", "a whole Raft store on this machine: up, down, status", (c: Argv) => localCommands(c))
    .demandCommand(1, "Name a command: node or local (faultline raft --help).")
    .epilog(
      "Five members on one machine, in one command:\n" +
        "  faultline raft local up            # n1..n5: Raft ports 7100-7104, HTTP 7200-7204\n" +
        "  faultline raft local down\n\n" +
        "Or member by member:\n" +
        "  P=n1=127.0.0.1:7101/8101,n2=127.0.0.1:7102/8102,n3=127.0.0.1:7103/8103,n4=127.0.0.1:7104/8104,n5=127.0.0.1:7105/8105\n" +
        "  for i in 1 2 3 4 5; do\n" +
        "    faultline raft node --id n$i --listen 127.0.0.1:710$i --http 127.0.0.1:810$i --peers $P --dir raft/n$i --logfile raft/n$i.log &\n" +
        "  done\n" +
        "  curl -sL -X PUT --data hello http://127.0.0.1:8101/kv/greeting    # -L follows a redirect to the leader\n" +
        "  curl -sL http://127.0.0.1:8101/kv/greeting\n\n" +
        API_HELP,
    );
}

function nodeOptions(c: Argv): Argv {
  let out = c.usage("$0 raft node --id ID --listen HOST:PORT --http HOST:PORT --peers ID=HOST:PORT/HTTPPORT,… --dir DIR [options]\n\nRuns one member of a Raft store.\n\n" + API_HELP);
  for (const [name, describe] of Object.entries(NODE_OPTIONS)) out = out.option(name, { type: "string", describe, requiresArg: true, ...(name === "peers" ? { array: true } : {}) });
  return out.example(
    "$0 raft node --id n1 --listen 127.0.0.1:7101 --http 127.0.0.1:8101 --peers n1=127.0.0.1:7101/8101,n2=127.0.0.1:7102/8102,n3=127.0.0.1:7103/8103 --dir raft/n1",
    "member n1 of three",
  );
}

/** The last value of an option given once or several times. */
function last(v: unknown): string | undefined {
  if (v === undefined) return undefined;
  return String(Array.isArray(v) ? v.at(-1) : v);
}

export function raftOptionsOf(argv: Record<string, unknown>): RaftOptions {
  const peers = argv["peers"];
  return {
    id: last(argv["id"]),
    listen: last(argv["listen"]),
    http: last(argv["http"]),
    peers: peers === undefined ? undefined : (Array.isArray(peers) ? peers : [peers]).map(String),
    dir: last(argv["dir"]),
    logfile: last(argv["logfile"]),
    logLevel: last(argv["log-level"]),
    electionTimeout: last(argv["election-timeout"]),
    heartbeat: last(argv["heartbeat"]),
    snapshotEvery: last(argv["snapshot-every"]),
    initialVoters: last(argv["initial-voters"]),
    requestTimeout: last(argv["request-timeout"]),
    preVote: last(argv["pre-vote"]),
    checkQuorum: last(argv["check-quorum"]),
  };
}

async function runRaftNode(argv: Record<string, unknown>): Promise<void> {
  const settings = settingsOrExit("faultline raft node", RaftUsageError, () => resolveRaftSettings(raftOptionsOf(argv)));
  const log = new NodeLog(settings.id, settings.logfile, settings.logLevel);
  const fatal = fatalExit(`faultline raft node ${settings.id}`, log, settings.logfile);
  const host = new RaftHost({ settings, log, onFatal: fatal });
  await serve(host, log, fatal, {
    dir: settings.dir,
    isStartError: (e) => e instanceof RaftDiskError,
    listenWhat: (port) => (port === settings.http.port ? `--http ${formatHostPort(settings.http)}` : `--listen ${formatHostPort(settings.listen)}`),
    startLine: `faultline raft node ${settings.id}: raft ${formatHostPort(settings.listen)}, http ${formatHostPort(settings.http)}, members ${[...settings.peers.keys()].join(",")} · dir ${settings.dir} · log ${settings.logfile ?? "stderr"}`,
  });
}

// ---- faultline raft local … ------------------------------------------------------------------

/** A local command: its lines on stdout, without progress reports; [ERR] … and exit 1 when it fails. */
const localAdmin = (run: (out: Out) => Promise<boolean | void>) => admin(run, { progress: false });

function localCommands(y: Argv): Argv {
  const dirOption = { type: "string", default: RAFT_LOCAL_DIR_DEFAULT, describe: "where the members' data, logs and raft-local.json live" } as const;
  return y
    .usage("$0 raft local <command>\n\nA Raft store on 127.0.0.1, started in the background with one command and stopped with another.")
    .command(
      "up",
      "start N members in the background and wait until one leads and all follow it",
      (c: Argv) =>
        c
          .option("members", { type: "number", default: 5, describe: "how many members (3, 5, 7…: a majority must be up)" })
          .option("dir", dirOption)
          .option("port-base", { type: "number", default: 7100, describe: "member i's Raft port is port-base + i - 1, its HTTP port port-base + 100 + i - 1" })
          .option("election-timeout", { type: "string", default: "300-600", describe: "the members' --election-timeout, ms" })
          .option("heartbeat", { type: "string", default: "60", describe: "the members' --heartbeat, ms" })
          .example("$0 raft local up", "n1..n5 on 127.0.0.1, HTTP on 7200-7204"),
      (argv) =>
        localAdmin((out) =>
          raftLocalUp(
            {
              members: argv["members"] as number,
              dir: String(argv["dir"]),
              portBase: argv["port-base"] as number,
              extraArgs: ["--election-timeout", String(argv["election-timeout"]), "--heartbeat", String(argv["heartbeat"])],
              launcher: [process.execPath, resolve(process.argv[1] ?? "faultline")],
            },
            out,
          ),
        ),
    )
    .command(
      "down",
      "stop the local store's members (SIGTERM, then SIGKILL after 10 s); data and logs are kept",
      (c: Argv) => c.option("dir", dirOption),
      (argv) => localAdmin((out) => raftLocalDown(String(argv["dir"]), out)),
    )
    .command(
      "status",
      "which members run, their role, term and commit index (exit 1 if any is down)",
      (c: Argv) => c.option("dir", dirOption),
      (argv) => localAdmin((out) => raftLocalStatus(String(argv["dir"]), out)),
    )
    .demandCommand(1, "Name a command: up, down or status (faultline raft local --help).");
}
