// The details panel: the selected node's state at the current time — epochs, flags, its
// election, Raft term/vote/leader/commit, and every peer it knows with the flags it holds about
// it and the failure reports it has received.

import * as d3 from "d3";
import { formatMs } from "../../model/layout.js";
import { formatRanges } from "../../model/slots.js";
import { PEER_FLAG, type NodeState, type Peer } from "../../model/state.js";
import type { Frame } from "../frame.js";

type Row = readonly [string, string];

function peerFlags(p: Peer): string {
  const out: string[] = [];
  if (p.flags & PEER_FLAG.fail) out.push("FAIL");
  if (p.flags & PEER_FLAG.pfail) out.push("PFAIL");
  if (p.flags & PEER_FLAG.handshake) out.push("handshake");
  return out.join(" ");
}

function rows(n: NodeState, f: Frame): Row[] {
  const s = f.summaries.get(n.id);
  const out: Row[] = [
    ["role", n.role ?? "unknown"],
    ["status", n.status + (n.restarts > 0 ? ` (${n.restarts} restarts)` : "")],
    ["flags", s === undefined || s.flags.length === 0 ? "none" : s.flags.join(", ")],
  ];
  if (s !== undefined && s.failBy.length > 0) out.push(["FAIL at", s.failBy.join(", ")]);
  if (s !== undefined && s.pfailBy.length > 0) out.push(["PFAIL at", s.pfailBy.join(", ")]);
  if (n.name !== null) out.push(["name", n.name]);
  if (n.master !== null) out.push(["master", n.master]);
  if (n.currentEpoch !== null) out.push(["currentEpoch", String(n.currentEpoch)]);
  if (n.configEpoch !== null) out.push(["configEpoch", String(n.configEpoch)]);
  if (n.lastVoteEpoch !== null) out.push(["lastVoteEpoch", String(n.lastVoteEpoch)]);
  if (n.claim !== null) out.push(["claims", `${formatRanges(n.claim.slots)} at epoch ${n.claim.epoch}`]);
  if (n.clusterState !== null) out.push(["cluster state", n.clusterState]);
  if (n.offset !== null) out.push(["replication offset", String(n.offset)]);
  const e = n.election;
  if (e !== null) out.push(["election", `${e.manual ? "manual " : ""}for ${e.master ?? "?"} since ${formatMs(e.startedT - f.model.trace.t0)}, epoch ${e.epoch ?? "not asked yet"}, ${e.votes} votes, ${e.outcome}`]);
  const r = n.raft;
  if (r !== null) {
    out.push(["term", String(r.term ?? "?")], ["vote", r.vote ?? "none"], ["leader", r.leader ?? "unknown"]);
    out.push(["log", `commit index ${r.commit ?? "?"}, last index ${r.lastIndex ?? "?"}`]);
    if (r.voters !== null) out.push(["voters", r.voters.join(", ")]);
  }
  if (n.lastT !== null) out.push(["last event", formatMs(n.lastT - f.model.trace.t0)]);
  return out;
}

/** What the panel shows last, so an unchanged node at an unchanged point is not redrawn. */
const shownAt = new WeakMap<HTMLElement, string>();

export function renderDetails(el: HTMLElement, f: Frame): void {
  const key = `${f.view.selected ?? ""}@${f.state.applied}`;
  if (shownAt.get(el) === key) return;
  shownAt.set(el, key);
  const root = d3.select(el);
  const id = f.view.selected;
  const n = id === null ? undefined : f.state.nodes.get(id);
  if (n === undefined) {
    root.attr("data-node", null).html("<h2>Details</h2><p class='hint'>Click a node on the map or a lane label to see its state at the current time.</p>");
    return;
  }
  root.attr("data-node", n.id).html("");
  const asOf = Number.isFinite(f.state.t) ? `after event ${f.state.applied.toLocaleString("en")} at ${formatMs(f.state.t - f.model.trace.t0)}` : "before the first event";
  root.append("h2").text(n.id);
  root.append("p").attr("class", "hint").text(`State ${asOf}.`);
  const table = root.append("table").attr("data-testid", "node-state");
  table
    .selectAll("tr")
    .data(rows(n, f))
    .join("tr")
    .attr("data-field", (r) => r[0])
    .call((tr) => tr.append("th").text((r) => r[0]))
    .call((tr) => tr.append("td").text((r) => r[1]));
  const peers = [...n.peers].sort((a, b) => a[0].localeCompare(b[0], "en", { numeric: true }));
  root.append("h3").text(`Known nodes (${peers.length})`);
  const pt = root.append("table").attr("data-testid", "peers").attr("class", "peers");
  pt.append("tr").call((tr) => ["node", "name", "flags", "failure reports"].forEach((h) => tr.append("th").text(h)));
  pt.selectAll("tr.peer")
    .data(peers)
    .join("tr")
    .attr("class", "peer")
    .attr("data-peer", ([pid]) => pid)
    .attr("data-flags", ([, p]) => peerFlags(p))
    .call((tr) => tr.append("td").text(([pid]) => pid))
    .call((tr) => tr.append("td").text(([, p]) => (p.name === null ? "" : p.name.slice(0, 8))))
    .call((tr) => tr.append("td").text(([, p]) => peerFlags(p)))
    .call((tr) => tr.append("td").text(([, p]) => [...p.reports].map(([by, t]) => `${by} @${formatMs(t - f.model.trace.t0)}`).join(", ")));
}
