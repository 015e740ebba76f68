// A double-ended queue of byte strings on a growable ring buffer: O(1) push and pop at both
// ends and O(1) indexing, which is what Redis's quicklist gives list commands.

const CAPACITY_MIN = 8;

export class Deque {
  /** Ring storage; `head` is the index of element 0; capacity is a power of two. */
  private buf: (string | undefined)[] = new Array<string | undefined>(CAPACITY_MIN);
  private head = 0;
  /** Number of elements held. */
  length = 0;

  static from(items: readonly string[]): Deque {
    const d = new Deque();
    for (const item of items) d.pushBack(item);
    return d;
  }

  private grow(): void {
    const items = this.toArray();
    this.buf = new Array<string | undefined>(this.buf.length * 2);
    for (let i = 0; i < items.length; i++) this.buf[i] = items[i];
    this.head = 0;
  }

  private slot(i: number): number {
    return (this.head + i) & (this.buf.length - 1);
  }

  pushBack(v: string): void {
    if (this.length === this.buf.length) this.grow();
    this.buf[this.slot(this.length)] = v;
    this.length++;
  }

  pushFront(v: string): void {
    if (this.length === this.buf.length) this.grow();
    this.head = (this.head - 1) & (this.buf.length - 1);
    this.buf[this.head] = v;
    this.length++;
  }

  popFront(): string | undefined {
    if (this.length === 0) return undefined;
    const v = this.buf[this.head];
    this.buf[this.head] = undefined;
    this.head = this.slot(1);
    this.length--;
    return v;
  }

  popBack(): string | undefined {
    if (this.length === 0) return undefined;
    const at = this.slot(this.length - 1);
    const v = this.buf[at];
    this.buf[at] = undefined;
    this.length--;
    return v;
  }

  /** Element `i` (0-based from the head), or undefined out of range. */
  at(i: number): string | undefined {
    return i >= 0 && i < this.length ? this.buf[this.slot(i)] : undefined;
  }

  set(i: number, v: string): void {
    if (i >= 0 && i < this.length) this.buf[this.slot(i)] = v;
  }

  /** Elements [start, end) as an array. */
  toArray(start = 0, end = this.length): string[] {
    const out: string[] = [];
    for (let i = Math.max(0, start); i < Math.min(end, this.length); i++) out.push(this.buf[this.slot(i)] as string);
    return out;
  }

  /** Replaces the contents (LREM, LTRIM, LINSERT rebuild the list). */
  replaceAll(items: readonly string[]): void {
    let capacity = CAPACITY_MIN;
    while (capacity < items.length) capacity *= 2;
    this.buf = new Array<string | undefined>(capacity);
    for (let i = 0; i < items.length; i++) this.buf[i] = items[i];
    this.head = 0;
    this.length = items.length;
  }
}
