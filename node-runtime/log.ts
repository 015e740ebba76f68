// The node's log: pino JSON lines, one per `trace` effect and one per host event.
//
// Every line has the fields of a simulator trace line — `t` (wall-clock ms, the node's local
// time), `node` (its address), `type` — after pino's `level`, so a real node's log replays in the
// viewer and greps like a simulated trace. Host events (listening, connections, bus links,
// recovered files, shutdown) use their own types, listed in node-runtime/README.md.
//
// Lines are written synchronously: a node that is SIGKILLed loses none of what it logged.

import { pino, type Logger } from "pino";
import type { Json } from "../core/trace.js";

export type Level = "debug" | "info" | "warn" | "error" | "fatal";

/** What the host logs through; `t` and `node` are added here, as the simulator's world adds them. */
export class NodeLog {
  private readonly logger: Logger;

  constructor(
    private readonly node: string,
    logfile: string | null,
    level: Level = "info",
  ) {
    const dest = pino.destination({ dest: logfile ?? 2, sync: true, mkdir: true, append: true });
    this.logger = pino({ base: null, timestamp: false, level, formatters: { level: (label) => ({ level: label }) } }, dest);
  }

  /** One line: `{level, t, node, type, ...fields}`. */
  event(level: Level, type: string, fields: Readonly<Record<string, Json>> = {}): void {
    if (!this.logger.isLevelEnabled(level)) return;
    this.logger[level]({ t: Date.now(), node: this.node, type, ...fields });
  }

  /** A trace effect of the machine (its event already carries `type`). */
  trace(nowMs: number, event: Readonly<Record<string, Json>>): void {
    this.logger.info({ t: nowMs, node: this.node, ...event });
  }

  flush(): void {
    this.logger.flush();
  }
}
