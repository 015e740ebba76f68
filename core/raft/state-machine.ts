import type { Json } from "../trace.js";
/** The replicated state machine Raft drives. Deterministic: same commands in the same order ⇒ same results and snapshot. */
export interface StateMachine {
  /** Applies the committed command at `index`. Returns the reply for the client that proposed it. */
  apply(index: number, command: Json): Json;
  /** Answers a read-only query against the applied state; `null` means not yet answerable (a watch waiting for a change past some index): ask again after the next apply. */
  read(query: Json): Json | null;
  /**
   * The whole applied state, for InstallSnapshot and log compaction. RaftNode keeps the value and
   * sends it to followers later, so it must not change afterwards (return a copy, not live state).
   */
  snapshot(): Json;
  /** Replaces the state with a snapshot's. The value may be shared (a message, a disk record): copy what will be mutated. */
  restore(snapshot: Json): void;
}
