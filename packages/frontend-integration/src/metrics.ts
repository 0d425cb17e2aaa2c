/** Counts and latencies the integration keeps about itself (`getMetrics()`). */

const LATENCY_SAMPLES = 512;

export interface ServiceMetrics {
  requests: number;
  errors: { [type: string]: number };
  retries: number;
  deduplicated: number;
  latency: { p50: number | null; p95: number | null; p99: number | null };
}

export interface MetricsSnapshot {
  services: { [service: string]: ServiceMetrics };
  cache: { hits: number; misses: number; ratio: number | null };
  optimistic: { confirmed: number; rolledBack: number; successRate: number | null };
}

interface ServiceCounters {
  requests: number;
  errors: Map<string, number>;
  retries: number;
  deduplicated: number;
  latencies: number[];
  next: number;
}

export class Metrics {
  private readonly services = new Map<string, ServiceCounters>();
  cacheHits = 0;
  cacheMisses = 0;
  optimisticConfirmed = 0;
  optimisticRolledBack = 0;

  request(service: string, milliseconds: number, errorType: string | null): void {
    const counters = this.counters(service);
    counters.requests += 1;
    if (errorType !== null)
      counters.errors.set(errorType, (counters.errors.get(errorType) ?? 0) + 1);
    if (counters.latencies.length < LATENCY_SAMPLES) counters.latencies.push(milliseconds);
    else counters.latencies[counters.next] = milliseconds;
    counters.next = (counters.next + 1) % LATENCY_SAMPLES;
  }

  retry(service: string): void {
    this.counters(service).retries += 1;
  }

  deduplicated(service: string): void {
    this.counters(service).deduplicated += 1;
  }

  snapshot(): MetricsSnapshot {
    const services: { [service: string]: ServiceMetrics } = {};
    for (const [name, counters] of [...this.services].sort(([a], [b]) => a.localeCompare(b))) {
      const sorted = [...counters.latencies].sort((a, b) => a - b);
      services[name] = {
        requests: counters.requests,
        errors: Object.fromEntries(counters.errors),
        retries: counters.retries,
        deduplicated: counters.deduplicated,
        latency: {
          p50: percentile(sorted, 0.5),
          p95: percentile(sorted, 0.95),
          p99: percentile(sorted, 0.99),
        },
      };
    }
    const reads = this.cacheHits + this.cacheMisses;
    const settled = this.optimisticConfirmed + this.optimisticRolledBack;
    return {
      services,
      cache: {
        hits: this.cacheHits,
        misses: this.cacheMisses,
        ratio: reads ? this.cacheHits / reads : null,
      },
      optimistic: {
        confirmed: this.optimisticConfirmed,
        rolledBack: this.optimisticRolledBack,
        successRate: settled ? this.optimisticConfirmed / settled : null,
      },
    };
  }

  private counters(service: string): ServiceCounters {
    let counters = this.services.get(service);
    if (counters === undefined) {
      counters = {
        requests: 0,
        errors: new Map(),
        retries: 0,
        deduplicated: 0,
        latencies: [],
        next: 0,
      };
      this.services.set(service, counters);
    }
    return counters;
  }
}

function percentile(sorted: number[], q: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? null;
}
