/** Wiring of the eopkg commands. */
import type { CommandDef } from './types.js';

export const eopkgCommands: CommandDef[] = [];
