/**
 * Run a synchronous step over many items in slices, yielding to the event loop between slices.
 * Synchronous fs calls cost a few microseconds where their promise versions cost tens (a thread-pool
 * round trip each); slicing keeps timers (lock refresh, servers) running during long loops.
 */
const yieldNow = () => new Promise<void>((r) => setImmediate(r));

export async function chunked<T>(items: Iterable<T>, step: (item: T, index: number) => void, budgetMs = 15): Promise<void> {
  let sliceStart = performance.now();
  let i = 0;
  for (const item of items) {
    step(item, i++);
    if ((i & 31) === 0 && performance.now() - sliceStart > budgetMs) {
      await yieldNow();
      sliceStart = performance.now();
    }
  }
}
