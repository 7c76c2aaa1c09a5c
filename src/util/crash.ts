/**
 * Test-only crash points. When RCUREPO_CRASH_AT names a step (comma-separated list), the process
 * SIGKILLs itself on reaching it: the crash-consistency tests use this to stop a transaction at every
 * named step. Unset in normal use; costs one environment lookup per step.
 */
export const CRASH_POINTS = [
  'after-lock',
  'in-pool-commit', // a blob linked to its pool name, its temporary name not yet removed
  'after-pool-commit',
  'after-allocate',
  'after-clone',
  'after-apply',
  'after-index',
  'after-verify',
  'after-twin', // the spare's twin taken and changed beside staging (when there was one)
  'after-durable',
  'after-rename',
  'after-swap',
  'after-supersede',
  'after-twin-stored', // the twin kept as the new generation's spare (only reached when there was one)
] as const;
/** Steps of making a spare clone (src/engine/spare.ts), a background job apart from the transaction. */
export const SPARE_CRASH_POINTS = ['spare-after-clone', 'spare-after-rename'] as const;
export type CrashPoint = (typeof CRASH_POINTS)[number] | (typeof SPARE_CRASH_POINTS)[number];

export function crashPoint(name: CrashPoint): void {
  const spec = process.env.RCUREPO_CRASH_AT;
  if (!spec) return;
  if (spec.split(',').includes(name)) process.kill(process.pid, 'SIGKILL');
}
