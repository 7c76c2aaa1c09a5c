/** Wiring of the hooks commands. */
import type { CommandDef } from './types.js';

export const hooksCommands: CommandDef[] = [];
