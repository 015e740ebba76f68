// `faultline raft local up | down | status`: a Raft store of N members on this machine in one
// command, as `faultline local` does for the Redis cluster (local.ts).
//
// `up` starts N `faultline raft node` processes in the background (detached: they outlive the
// command and ignore the terminal's Ctrl-C) on 127.0.0.1 — member i's Raft port is port-base + i
// − 1 and its HTTP port port-base + 100 + i − 1 — and waits until one leads and every member
// follows it. `down` stops them: SIGTERM, then SIGKILL after a bound. The processes, their records
// and their stop are procs.ts's `ProcGroup`, shared with `faultline local`.
//
// Everything lives in one directory (default ./.faultline-raft):
//
//   raft-local.json   what was started: ids, ports, pids, files (written before each spawn, so a
//                     failed `up` can still be cleaned up and `down` always knows what is ours)
//   members/<id>/     each member's --dir (raft-log, raft-snapshot)
//   logs/<id>.log     each member's JSON-lines log
//   logs/<id>.out     what each process printed (its start line, fatal errors)

import { join } from "node:path";
import { AdminError, type Out } from "./admin.js";
import { type GroupKind, type GroupState, type MemberFiles, POLL_MS, ProcGroup, sleep, stateStamp, STOP_GRACE_MS } from "./procs.js";

export const RAFT_LOCAL_DIR_DEFAULT = ".faultline-raft";
/** The HTTP ports start this far above the Raft ports. */
const HTTP_PORT_OFFSET = 100;
const MEMBERS_MAX = 15;
/** How long `up` waits for a leader that every member follows. */
const LEADER_TIMEOUT_MS = 30_000;

interface MemberRecord extends MemberFiles {
  readonly id: string;
  readonly raftPort: number;
  readonly httpPort: number;
}

interface LocalState extends GroupState {
  readonly members: MemberRecord[];
}

export interface RaftUpOptions {
  readonly members: number;
  readonly dir: string;
  readonly portBase: number;
  /** More `raft node` options for every member (`--election-timeout 300-600`). */
  readonly extraArgs: readonly string[];
  /** How to run faultline: the Node binary and the launcher script. */
  readonly launcher: readonly string[];
}

const MEMBERS: GroupKind<MemberRecord, LocalState> = {
  file: "raft-local.json",
  command: "faultline raft local",
  title: "Raft store",
  noun: "store",
  member: "member",
  dataDir: "members",
  keys: "members",
  rival: "store",
  argv: { words: ["raft", "node"], flag: "--id" },
  records: (state) => state.members,
  key: (m) => m.id,
  name: (m) => m.id,
  label: (m) => m.id,
  ports: (m) => [
    [m.raftPort, "Raft"],
    [m.httpPort, "HTTP"],
  ],
};

export async function raftLocalUp(opts: RaftUpOptions, out: Out): Promise<void> {
  if (!Number.isInteger(opts.members) || opts.members < 1 || opts.members > MEMBERS_MAX) throw new AdminError(`--members must be 1 to ${MEMBERS_MAX} (odd sizes tolerate the most failures: 3, 5, 7)`);
  if (!Number.isInteger(opts.portBase) || opts.portBase < 1024 || opts.portBase + HTTP_PORT_OFFSET + opts.members > 65535) throw new AdminError(`--port-base must leave room for ${opts.members} Raft ports and their HTTP ports (+${HTTP_PORT_OFFSET}) within 1024..65535`);
  const group = new ProcGroup(opts.dir, MEMBERS);
  const dir = group.dir;
  group.prepare(out);
  const members: MemberRecord[] = Array.from({ length: opts.members }, (_, i) => ({
    id: `n${i + 1}`,
    raftPort: opts.portBase + i,
    httpPort: opts.portBase + HTTP_PORT_OFFSET + i,
    pid: null,
    ...group.files(`n${i + 1}`),
  }));
  await group.checkPortsFree(members);
  const state: LocalState = { ...stateStamp(), members, stoppedAt: null };
  const peers = members.map((m) => `${m.id}=127.0.0.1:${m.raftPort}/${m.httpPort}`).join(",");
  out.line(`Starting ${opts.members} Raft members on 127.0.0.1: Raft ports ${members[0]?.raftPort}-${members.at(-1)?.raftPort}, HTTP ports ${members[0]?.httpPort}-${members.at(-1)?.httpPort}`);
  const args = (m: MemberRecord) => ["raft", "node", "--id", m.id, "--listen", `127.0.0.1:${m.raftPort}`, "--http", `127.0.0.1:${m.httpPort}`, "--peers", peers, "--dir", join(dir, m.dir), "--logfile", join(dir, m.log), ...opts.extraArgs];
  const leader = await group.start(state, opts.launcher, args, (checkExit) => waitForLeader(members, checkExit, out), out);
  const first = members[0] as MemberRecord;
  out.line("");
  out.line(`Raft store up: ${opts.members} member${opts.members === 1 ? "" : "s"}, ${leader.id} leads term ${leader.term}, every member follows it.`);
  for (const m of members) out.line(`  ${m.id}  raft 127.0.0.1:${m.raftPort}  http://127.0.0.1:${m.httpPort}`);
  out.line(`  logs      ${join(dir, "logs")}/<id>.log (JSON lines; <id>.out: what each process printed)`);
  out.line(`Try it:     curl -sL -X PUT --data hello http://127.0.0.1:${first.httpPort}/kv/greeting`);
  out.line(`            curl -sL http://127.0.0.1:${first.httpPort}/kv/greeting`);
  out.line(`Stop it:    faultline raft local down${opts.dir === RAFT_LOCAL_DIR_DEFAULT ? "" : ` --dir ${opts.dir}`}`);
}

/** GET /status of a member, or null when it does not answer. */
async function statusOf(httpPort: number): Promise<{ [key: string]: unknown } | null> {
  try {
    const r = await fetch(`http://127.0.0.1:${httpPort}/status`, { signal: AbortSignal.timeout(1_000) });
    return r.status === 200 ? ((await r.json()) as { [key: string]: unknown }) : null;
  } catch {
    return null;
  }
}

async function waitForLeader(members: readonly MemberRecord[], checkExit: (m: MemberRecord) => void, out: Out): Promise<{ id: string; term: number }> {
  const deadline = Date.now() + LEADER_TIMEOUT_MS;
  for (;;) {
    for (const m of members) checkExit(m);
    const statuses = await Promise.all(members.map((m) => statusOf(m.httpPort)));
    const leader = statuses.find((s) => s?.["role"] === "leader") ?? null;
    if (leader !== null && statuses.every((s) => s !== null && s["leader"] === leader["id"] && s["term"] === leader["term"])) {
      return { id: String(leader["id"]), term: Number(leader["term"]) };
    }
    if (Date.now() >= deadline) {
      const views = members.map((m, i) => `${m.id}: ${statuses[i] === null ? "no answer" : `${String(statuses[i]?.["role"])} of term ${String(statuses[i]?.["term"])}`}`);
      throw new AdminError(`no leader that every member follows within ${LEADER_TIMEOUT_MS / 1000} s (${views.join(", ")})`);
    }
    out.progress(`Waiting for a leader: ${statuses.filter((s) => s !== null).length}/${members.length} members answer`);
    await sleep(POLL_MS);
  }
}

export async function raftLocalDown(dirOption: string, out: Out, graceMs = STOP_GRACE_MS): Promise<void> {
  const group = new ProcGroup(dirOption, MEMBERS);
  const stopped = await group.down(out, graceMs);
  if (stopped > 0) out.line(`Stopped ${stopped} member${stopped === 1 ? "" : "s"}. Data and logs kept in ${group.dir}; the next faultline raft local up there replaces them.`);
}

/** Each member: running or not, its role, term and commit index. True when all run. */
export async function raftLocalStatus(dirOption: string, out: Out): Promise<boolean> {
  return new ProcGroup(dirOption, MEMBERS).status(
    out,
    (state) => `${state.members.length} members`,
    async (m) => {
      const s = await statusOf(m.httpPort);
      return `http://127.0.0.1:${m.httpPort}  ${s === null ? "does not answer" : `${String(s["role"])}, term ${String(s["term"])}, leader ${String(s["leader"])}, commit index ${String(s["commitIndex"])}`}`;
    },
  );
}
