/**
 * Step timings on stderr when RCUREPO_TRACE is set: how operators and benchmarks see where a
 * transaction spends its time. Costs one environment lookup per step otherwise.
 */
const enabled = !!process.env.RCUREPO_TRACE;
// performance.now() counts from process start: the first line shows the cost of starting up.
let last = 0;
const start = 0;

export function trace(step: string): void {
  if (!enabled) return;
  const now = performance.now();
  const cpu = process.cpuUsage();
  // CPU time of the whole process (all threads) so far: what a burst of concurrent callers competes for.
  // Peak resident memory so far: which step sets the process's high-water mark.
  const peakMiB = process.resourceUsage().maxRSS / 1024;
  // And what is resident now, split: the JS heap in use, and Buffer/native memory outside it.
  const mem = process.memoryUsage();
  const mib = (b: number) => (b / 1048576).toFixed(0);
  process.stderr.write(`[trace] ${step.padEnd(22)} +${(now - last).toFixed(1)} ms (total ${(now - start).toFixed(1)} ms, cpu ${((cpu.user + cpu.system) / 1000).toFixed(0)} ms, peak ${peakMiB.toFixed(0)} MiB, rss ${mib(mem.rss)} heap ${mib(mem.heapUsed)}/${mib(mem.heapTotal)} ext ${mib(mem.external)} MiB)\n`);
  last = now;
}
