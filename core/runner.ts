// The durable-before-visible rule, enforced once for every machine and both hosts.
//
// A machine that promises something (a vote, an epoch, an acknowledged write under
// `appendfsync always`) emits `persist` and then the `send` or `reply` carrying the promise with
// `after: <persist id>`. The runner holds that effect until the host reports the persist
// completed, as etcd's Ready/Advance discipline does. If the node crashes first, the held effect
// dies with the node's volatile state: the promise was never made.

import { assert, type ClientId, type Effect, type Input, type Machine, type Message, type PersistId } from "./machine.js";

/** Held effects per node are bounded: a machine that never lets its persists complete is a bug. */
export const HELD_EFFECTS_MAX = 100_000;

/** Whether an effect is a persist or depends on one: what the gate has to look at. */
function waits(e: Effect<Message, unknown>): boolean {
  return e.kind === "persist" || ((e.kind === "send" || e.kind === "reply" || e.kind === "trace") && e.after !== undefined);
}

export class DurableGate<M extends Message, Rep> {
  /** Persists emitted and not yet reported complete. */
  private readonly inFlight = new Set<PersistId>();
  /** The greatest persist id seen; ids must increase, so anything ≤ it and not in flight is done. */
  private persistIdMax = -1;
  /** Effects waiting for a persist, in the order the machine emitted them. */
  private held: { readonly after: PersistId; readonly effect: Effect<M, Rep> }[] = [];
  /**
   * Per client with something held: the persist its latest held reply, push or close waits for.
   * A connection is FIFO, so nothing later to that client may overtake it: a GET pipelined after
   * a SET that waits for its fsync (appendfsync always) is answered after the SET, as Redis
   * answers both from one reply buffer after the fsync.
   */
  private readonly clientHeld = new Map<ClientId, PersistId>();

  /** Passes effects through, recording persists and holding effects whose persist is in flight. */
  admit(effects: Effect<M, Rep>[]): Effect<M, Rep>[] {
    // Nothing in flight and nothing new to wait for (most steps of most nodes): all pass as they are.
    if (this.inFlight.size === 0 && !effects.some(waits)) return effects;
    const out: Effect<M, Rep>[] = [];
    for (const effect of effects) {
      if (effect.kind === "persist") {
        if (!(effect.id > this.persistIdMax)) assert(false, `persist ids must increase (${effect.id} after ${this.persistIdMax})`);
        this.persistIdMax = effect.id;
        // One nothing waits for is never in flight: its completion, if reported, changes nothing.
        if (effect.notify !== false) this.inFlight.add(effect.id);
        out.push(effect);
        continue;
      }
      let after = effect.kind === "send" || effect.kind === "reply" || effect.kind === "trace" ? effect.after : undefined;
      if (after !== undefined && !(after <= this.persistIdMax)) assert(false, `effect depends on persist ${after}, which was never requested`);
      const client = effect.kind === "reply" || effect.kind === "push" || effect.kind === "close" ? effect.client : null;
      if (client !== null) {
        const prior = this.clientHeld.get(client);
        if (prior !== undefined && this.inFlight.has(prior) && (after === undefined || after < prior)) after = prior;
      }
      if (after !== undefined && this.inFlight.has(after)) {
        assert(this.held.length < HELD_EFFECTS_MAX, "too many effects held behind persists");
        this.held.push({ after, effect });
        if (client !== null) this.clientHeld.set(client, after);
        continue;
      }
      out.push(effect);
    }
    return out;
  }

  /** Marks a persist complete and returns the effects it releases, in emission order. */
  complete(id: PersistId): Effect<M, Rep>[] {
    if (!this.inFlight.delete(id)) return [];
    const released: Effect<M, Rep>[] = [];
    const still: typeof this.held = [];
    for (const h of this.held) {
      if (this.inFlight.has(h.after)) still.push(h);
      else released.push(h.effect);
    }
    this.held = still;
    for (const [client, after] of this.clientHeld) if (!this.inFlight.has(after)) this.clientHeld.delete(client);
    return released;
  }

  get heldCount(): number {
    return this.held.length;
  }
}

/**
 * Wraps a machine for a host: every input goes through here, so the gate sees every persist and
 * every completion. Effects released by a completion come before the machine's own reaction to it.
 */
export class NodeRunner<M extends Message, Req, Rep> {
  private readonly gate = new DurableGate<M, Rep>();

  constructor(readonly machine: Machine<M, Req, Rep>) {}

  step(input: Input<M, Req>, nowMs: number): Effect<M, Rep>[] {
    const released = input.kind === "persisted" ? this.gate.complete(input.id) : [];
    const own = this.gate.admit(this.machine.step(input, nowMs));
    return released.length === 0 ? own : released.concat(own);
  }

  get heldCount(): number {
    return this.gate.heldCount;
  }
}
