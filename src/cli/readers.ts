/** Wiring of the readers commands. */
import type { CommandDef } from './types.js';

export const readersCommands: CommandDef[] = [];
