// The event queue: a binary min-heap ordered by (time, seq).
//
// `seq` is assigned at scheduling from one counter, so two events at the same time run in the
// order they were scheduled — a fact of the run, not of the heap's internals or of Map order.

export interface Scheduled {
  /** Simulated time in integer microseconds. */
  readonly atUs: number;
  /** Scheduling order; breaks ties between equal times. */
  readonly seq: number;
}

export class EventQueue<E extends Scheduled> {
  private readonly heap: E[] = [];
  private seqNext = 0;

  /** The seq the next scheduled event must carry. */
  nextSeq(): number {
    return this.seqNext++;
  }

  push(event: E): void {
    const h = this.heap;
    h.push(event);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = h[parent] as E;
      if (!before(event, p)) break;
      h[i] = p;
      i = parent;
    }
    h[i] = event;
  }

  pop(): E | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    if (top === undefined || last === undefined || h.length === 0) return top;
    let i = 0;
    const n = h.length;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && before(h[r] as E, h[l] as E) ? r : l;
      if (!before(h[c] as E, last)) break;
      h[i] = h[c] as E;
      i = c;
    }
    h[i] = last;
    return top;
  }

  peek(): E | undefined {
    return this.heap[0];
  }

  get size(): number {
    return this.heap.length;
  }
}

function before(a: Scheduled, b: Scheduled): boolean {
  return a.atUs < b.atUs || (a.atUs === b.atUs && a.seq < b.seq);
}
