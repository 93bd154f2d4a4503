/** A deterministic clock for tests. */
export class FakeClock {
  #now: number;
  constructor(start: string | Date = '2026-03-10T16:00:00Z') {
    this.#now = new Date(start).getTime();
  }
  now(): Date {
    return new Date(this.#now);
  }
  advance(ms: number): void {
    this.#now += ms;
  }
  set(at: string | Date): void {
    this.#now = new Date(at).getTime();
  }
}
