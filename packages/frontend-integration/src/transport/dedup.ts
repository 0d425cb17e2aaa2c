/** Identical concurrent calls share one execution (single flight). */
export class SingleFlight<T> {
  private readonly flights = new Map<string, Promise<T>>();

  /** The result of `call()`, or of the identical call already in flight under `key`. */
  run(key: string, call: () => Promise<T>): Promise<T> {
    const running = this.flights.get(key);
    if (running !== undefined) return running;
    const flight = call().finally(() => {
      if (this.flights.get(key) === flight) this.flights.delete(key);
    });
    this.flights.set(key, flight);
    return flight;
  }

  running(key: string): boolean {
    return this.flights.has(key);
  }

  get size(): number {
    return this.flights.size;
  }
}
