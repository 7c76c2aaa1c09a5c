/**
 * A full garbage collection on request. V8 collects when a thread allocates; a main thread that hands a
 * long step to a worker and waits allocates nothing, so the garbage of its earlier steps stays on its
 * heap (and in the process's RSS) for the whole step. Node exposes `gc` only behind --expose-gc, which
 * can be set at run time for contexts created afterwards.
 */
import v8 from 'node:v8';
import vm from 'node:vm';

let gc: (() => void) | null | undefined;

export function collectGarbage(): void {
  if (gc === undefined) {
    try {
      v8.setFlagsFromString('--expose-gc');
      gc = vm.runInNewContext('gc') as () => void;
    } catch {
      gc = null; // not available in this runtime: the collection is only an optimisation
    }
  }
  gc?.();
}
