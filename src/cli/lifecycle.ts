/** Wiring of the lifecycle commands. */
import type { CommandDef } from './types.js';

export const lifecycleCommands: CommandDef[] = [];
