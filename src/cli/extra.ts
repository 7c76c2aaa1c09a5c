/** Wiring modules of the feature areas beyond the core; each contributes its command definitions. */
import type { CommandDef } from './types.js';
import { eopkgCommands } from './eopkg.js';
import { debCommands } from './deb.js';
import { readersCommands } from './readers.js';
import { hooksCommands } from './hooks.js';
import { lifecycleCommands } from './lifecycle.js';
import { signingCommands } from './signing.js';
import { syncCommands } from './sync.js';
import { mirrorCommands } from './mirror.js';

export function extraCommands(): CommandDef[] {
  return [...eopkgCommands, ...debCommands, ...readersCommands, ...hooksCommands, ...lifecycleCommands, ...signingCommands, ...syncCommands, ...mirrorCommands];
}
