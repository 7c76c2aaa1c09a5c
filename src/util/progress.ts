/** Progress on stderr for long work: only when stderr is a terminal; silent otherwise (logs, pipes, CI). */
export interface Progress {
  tick(n?: number): void;
  done(): void;
}

const SILENT: Progress = { tick() {}, done() {} };

/** `minTotal`: below this many items the work is too short for a progress line (slow items lower it). */
export function progress(label: string, total: number, stream: NodeJS.WriteStream = process.stderr, minTotal = 50): Progress {
  if (!stream.isTTY || total < minTotal) return SILENT;
  let n = 0;
  let last = 0;
  const draw = () => stream.write(`\r${label} ${n}/${total} (${Math.floor((n * 100) / total)}%)`);
  return {
    tick(k = 1) {
      n += k;
      const now = Date.now();
      if (now - last > 100) {
        last = now;
        draw();
      }
    },
    done() {
      draw();
      stream.write('\n');
    },
  };
}
