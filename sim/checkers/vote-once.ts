// "No node votes for two candidates in one round": the same safety check for every protocol that
// votes (toy-leader's terms, the cluster's epochs), read from the `vote` events nodes emit once
// a vote is durable and has left.

import type { InvariantChecker, TraceLine } from "../machines/adapter.js";

export interface VoteOnceOptions {
  readonly name: string;
  readonly description: string;
  /** The vote event's field naming the round, and the word for it in messages ("term", "epoch"). */
  readonly round: string;
  /** A wiped node is a new node (a new cluster name): forget what it voted. */
  readonly forgetOnWipe: boolean;
}

export function voteOnce(o: VoteOnceOptions): InvariantChecker {
  const votes = new Map<string, Map<string, string>>();
  return {
    name: o.name,
    description: o.description,
    onTrace(line: TraceLine) {
      if (line.node === undefined) return null;
      if (o.forgetOnWipe && line.type === "fault" && line["action"] === "wipe") {
        votes.delete(line.node);
        return null;
      }
      if (line.type !== "vote") return null;
      const round = String(line[o.round]);
      let mine = votes.get(line.node);
      if (mine === undefined) {
        mine = new Map();
        votes.set(line.node, mine);
      }
      const prev = mine.get(round);
      const now = String(line["for"]);
      if (prev !== undefined && prev !== now) return `${line.node} voted for ${prev} and then ${now} in ${o.round} ${round}`;
      mine.set(round, now);
      return null;
    },
  };
}
