// Watches a run: invariant checkers at every step, expectations and fault triggers whenever the
// cluster's observable state changes, and `within` deadlines at their exact times.
//
// Checkers and expectations see the cluster only through the world's ClusterView (the declared
// observation of each node) and the trace lines; they never touch machine internals.

import type { NodeId } from "../../core/machine.js";
import type { World, WorldListener } from "../engine/world.js";
import type { InvariantChecker, TraceLine } from "../machines/adapter.js";
import type { CompiledExpectation } from "../scenario/load.js";
import { type EvalContext, type Pred, PredicateInstance } from "./predicates.js";

export type Failure =
  | { readonly kind: "invariant"; readonly name: string; readonly atMs: number; readonly message: string }
  | { readonly kind: "expectation"; readonly name: string; readonly atMs: number; readonly message: string }
  | { readonly kind: "no-convergence"; readonly name: string; readonly atMs: number; readonly message: string }
  | { readonly kind: "exception"; readonly name: string; readonly atMs: number; readonly message: string; readonly stack?: string }
  | { readonly kind: "budget"; readonly name: string; readonly atMs: number; readonly message: string };

export interface ExpectationResult {
  readonly label: string;
  readonly kind: CompiledExpectation["kind"];
  readonly status: "pass" | "fail" | "pending";
  /** When it was decided (met, or violated). */
  readonly atMs?: number;
  readonly detail: string;
}

interface Watch {
  readonly instance: PredicateInstance;
  /** Called when the predicate is evaluated; returns false to disarm. */
  readonly onValue: (value: boolean) => boolean;
}

export class Monitor implements WorldListener, EvalContext {
  private versionNow = 0;
  private dirty = true;
  private watches: Watch[] = [];
  private readonly eventWatches = new Set<PredicateInstance>();
  readonly failures: Failure[] = [];
  private readonly expectationResults: { label: string; kind: CompiledExpectation["kind"]; status: "pass" | "fail" | "pending"; atMs?: number; detail: string }[] = [];
  /** Set once the first safety failure stops the run. */
  stopOnFailure = true;
  /** While held, newly armed predicates wait for `release` before their first evaluation. */
  private held = false;

  constructor(
    private readonly world: World,
    private readonly checkers: readonly InvariantChecker[],
    private readonly convergedFn: () => string | null,
  ) {}

  // ---- EvalContext -------------------------------------------------------------------------

  get view(): World {
    return this.world;
  }

  nowMs(): number {
    return this.world.nowMs;
  }

  version(): number {
    return this.versionNow;
  }

  converged(): string | null {
    return this.convergedFn();
  }

  // ---- WorldListener -----------------------------------------------------------------------

  onLine(line: TraceLine): void {
    for (const c of this.checkers) {
      const v = c.onTrace?.(line);
      if (v !== undefined && v !== null) this.fail({ kind: "invariant", name: c.name, atMs: line.t, message: v });
    }
    for (const inst of this.eventWatches) if (inst.onLine(line)) this.dirty = true;
  }

  onStep(node: NodeId): void {
    for (const c of this.checkers) {
      const v = c.afterStep?.(node, this.world);
      if (v !== undefined && v !== null) this.fail({ kind: "invariant", name: c.name, atMs: this.world.nowMs, message: v });
    }
  }

  onNodeChanged(): void {
    this.versionNow += 1;
    this.dirty = true;
  }

  onSettled(): void {
    if (!this.dirty || this.held) return;
    this.dirty = false;
    this.evaluate();
  }

  // ---- watching ----------------------------------------------------------------------------

  /** Arms a predicate now; `onValue` runs at once and after every change until it returns false. */
  watch(pred: Pred, onValue: (value: boolean) => boolean): void {
    const instance = new PredicateInstance(pred, this);
    if (instance.watchesEvents) this.eventWatches.add(instance);
    const w: Watch = { instance, onValue };
    if (this.held || onValue(instance.value())) this.watches.push(w);
    else this.eventWatches.delete(instance);
  }

  /**
   * Arms predicates without evaluating them, until `release`. The run holds the monitor while the
   * nodes boot at time zero: triggers and `happened` see the boot events, but no `always` is
   * judged on the state before any node has started.
   */
  hold(): void {
    this.held = true;
  }

  release(): void {
    this.held = false;
    this.evaluate();
  }

  /** Calls `fire` once, the first time `pred` holds. */
  when(pred: Pred, fire: () => void): void {
    this.watch(pred, (v) => {
      if (v) fire();
      return !v;
    });
  }

  /** Evaluates every armed predicate now (the run calls this at its end too). */
  evaluate(): void {
    const current = this.watches;
    this.watches = []; // watches armed by callbacks below land here
    const keep: Watch[] = [];
    for (const w of current) {
      if (w.onValue(w.instance.value())) keep.push(w);
      else this.eventWatches.delete(w.instance);
    }
    this.watches = keep.concat(this.watches);
  }

  fail(f: Failure): void {
    this.failures.push(f);
    if (this.stopOnFailure && f.kind !== "expectation") this.world.stop(`${f.name}: ${f.message}`);
  }

  // ---- expectations ------------------------------------------------------------------------

  expect(e: CompiledExpectation): void {
    const r: (typeof this.expectationResults)[number] = { label: e.label, kind: e.kind, status: "pending", detail: "" };
    this.expectationResults.push(r);
    const decide = (status: "pass" | "fail", detail: string): void => {
      if (r.status !== "pending") return;
      r.status = status;
      r.atMs = this.world.nowMs;
      r.detail = detail;
      if (status === "fail") {
        this.failures.push({ kind: "expectation", name: e.label, atMs: r.atMs, message: detail });
        if (e.kind === "always" && this.stopOnFailure) this.world.stop(`${e.label}: ${detail}`);
      }
    };
    switch (e.kind) {
      case "always": {
        const arm = (): void =>
          this.watch(e.pred, (v) => {
            if (!v) decide("fail", `violated at ${fmtMs(this.world.nowMs)}`);
            return v;
          });
        if (e.fromMs === undefined || e.fromMs <= 0) arm();
        else this.world.schedule(e.fromMs * 1000, arm);
        r.detail = "held throughout";
        break;
      }
      case "eventually":
        this.when(e.pred, () => decide("pass", `held at ${fmtMs(this.world.nowMs)}`));
        r.detail = "never held";
        break;
      case "within": {
        const after = e.after as Pred;
        const windowMs = e.withinMs as number;
        r.detail = "the trigger never happened";
        this.when(after, () => {
          const startMs = this.world.nowMs;
          r.detail = `did not hold within ${windowMs} ms of ${fmtMs(startMs)}`;
          let met = false;
          this.when(e.pred, () => {
            met = true;
            decide("pass", `held ${fmtMs(this.world.nowMs - startMs)} after the trigger at ${fmtMs(startMs)}`);
          });
          this.world.schedule(Math.round((startMs + windowMs) * 1000), () => {
            this.evaluate();
            if (!met) decide("fail", `did not hold within ${windowMs} ms of the trigger at ${fmtMs(startMs)}`);
          });
        });
        break;
      }
    }
  }

  /** Closes the books: pending `always` pass, pending `eventually`/`within` fail. */
  finish(stoppedEarly: boolean): ExpectationResult[] {
    this.evaluate();
    for (const r of this.expectationResults) {
      if (r.status !== "pending") continue;
      if (stoppedEarly) {
        r.detail = "not decided: the run stopped early";
        continue;
      }
      if (r.kind === "always") {
        r.status = "pass";
        continue;
      }
      r.status = "fail";
      r.atMs = this.world.nowMs;
      this.failures.push({ kind: "expectation", name: r.label, atMs: r.atMs, message: r.detail });
    }
    return this.expectationResults.map((r) => ({ ...r }));
  }
}

export function fmtMs(ms: number): string {
  return `${Math.round(ms * 1000) / 1000} ms`;
}
