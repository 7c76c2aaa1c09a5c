/** Wiring modules of the feature areas beyond the core; each contributes its command definitions. */
import type { CommandDef } from './types.js';

export function extraCommands(): CommandDef[] {
  return [];
}
