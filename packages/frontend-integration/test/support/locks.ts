// Web Locks for Node tests: one exclusive lock per name, granted in request order, within the
// process (several integrations in one test stand for several tabs).
import type { LockRequest } from '../../src/tabs.js';

export function memoryLocks(): LockRequest {
  const queues = new Map<string, (() => void)[]>();
  const held = new Set<string>();
  const grant = (name: string): void => {
    if (held.has(name)) return;
    const next = queues.get(name)?.shift();
    if (next !== undefined) next();
  };
  return (name, options, callback) =>
    new Promise((resolve, reject) => {
      const run = (): void => {
        held.add(name);
        callback()
          .then(resolve, reject)
          .finally(() => {
            held.delete(name);
            grant(name);
          });
      };
      const queue = queues.get(name) ?? [];
      queues.set(name, queue);
      queue.push(run);
      options.signal?.addEventListener('abort', () => {
        const at = queue.indexOf(run);
        if (at >= 0) {
          queue.splice(at, 1);
          reject(options.signal?.reason);
        }
      });
      grant(name);
    });
}
