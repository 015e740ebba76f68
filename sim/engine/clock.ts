// A node's local clock: offset from simulated time, drifting at a rate, and able to jump.
//
// local(t) = baseLocal + (t − baseSim) · (1 + drift), rebased whenever drift changes or the
// clock jumps, so the clock stays continuous except at a jump. All values are integer µs.

export class NodeClock {
  private baseSimUs = 0;
  private baseLocalUs: number;
  private rate: number;

  constructor(offsetUs: number, driftPpm: number) {
    this.baseLocalUs = Math.round(offsetUs);
    this.rate = 1 + driftPpm / 1e6;
  }

  localUs(simUs: number): number {
    return this.baseLocalUs + Math.floor((simUs - this.baseSimUs) * this.rate);
  }

  /** The first simulated time at which the local clock reads at least `localUs` (never before `nowUs`). */
  simUsFor(localUs: number, nowUs: number): number {
    if (this.localUs(nowUs) >= localUs) return nowUs;
    let t = this.baseSimUs + Math.ceil((localUs - this.baseLocalUs) / this.rate);
    if (t < nowUs) t = nowUs;
    while (this.localUs(t) < localUs) t += 1; // at most a step or two of rounding
    return t;
  }

  jump(nowUs: number, deltaUs: number): void {
    this.rebase(nowUs);
    this.baseLocalUs += Math.round(deltaUs);
  }

  setDrift(nowUs: number, driftPpm: number): void {
    this.rebase(nowUs);
    this.rate = 1 + driftPpm / 1e6;
  }

  /** Sets the offset from simulated time, as a jump to `now + offset`. */
  setOffset(nowUs: number, offsetUs: number): void {
    this.rebase(nowUs);
    this.baseLocalUs = nowUs + Math.round(offsetUs);
  }

  get driftPpm(): number {
    return (this.rate - 1) * 1e6;
  }

  offsetUs(nowUs: number): number {
    return this.localUs(nowUs) - nowUs;
  }

  private rebase(nowUs: number): void {
    this.baseLocalUs = this.localUs(nowUs);
    this.baseSimUs = nowUs;
  }
}
