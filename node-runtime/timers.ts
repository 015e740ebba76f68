// A machine's named timers on Node's: `set-timer` and `cancel-timer` effects, for both hosts
// (the cluster node's host.ts and the Raft member's raft-host.ts).

/** setTimeout's longest delay; a later deadline is reached in several hops. */
const TIMER_DELAY_MAX_MS = 2 ** 31 - 1;

export class MachineTimers {
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private stopped = false;

  /** `fire(name)` is called once the wall clock has reached a timer's deadline. */
  constructor(private readonly fire: (name: string) => void) {}

  /** Arms `name` for wall-clock time `atMs`, replacing the timer of that name if armed. */
  set(name: string, atMs: number): void {
    this.cancel(name);
    if (this.stopped) return;
    const delayMs = Math.min(TIMER_DELAY_MAX_MS, Math.max(0, Math.ceil(atMs - Date.now())));
    this.timers.set(
      name,
      setTimeout(() => {
        // Node's timers run on a monotonic clock and may fire a little before the wall clock
        // reaches the deadline; the machine is promised a timer at or after it.
        if (Date.now() < atMs) return this.set(name, atMs);
        this.timers.delete(name);
        this.fire(name);
      }, delayMs),
    );
  }

  cancel(name: string): void {
    const t = this.timers.get(name);
    if (t === undefined) return;
    clearTimeout(t);
    this.timers.delete(name);
  }

  /** Cancels every timer; none is armed from then on (the host is stopping). */
  stop(): void {
    this.stopped = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }
}
