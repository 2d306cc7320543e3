// The registry of `bmt` commands, in the order `bmt --help` lists them. Adding a command: one
// file in this folder, one line here.
import type { Command } from "../command.ts";
import { checkCommand } from "./check.ts";
import { exportCommand } from "./export.ts";
import { getCommand } from "./get.ts";
import { historyCommand } from "./history.ts";
import { importCommand } from "./import.ts";
import { inspectCommand } from "./inspect.ts";
import { proveCommand } from "./prove.ts";
import { replayCommand } from "./replay.ts";
import { rollbackCommand } from "./rollback.ts";
import { rootCommand } from "./root.ts";
import { scanCommand } from "./scan.ts";
import { stateRequestCommand } from "./state-request.ts";
import { syncCommand } from "./sync.ts";
import { verifyCommand } from "./verify.ts";

export const COMMANDS: readonly Command[] = [
  rootCommand,
  importCommand,
  exportCommand,
  replayCommand,
  getCommand,
  scanCommand,
  proveCommand,
  verifyCommand,
  inspectCommand,
  checkCommand,
  historyCommand,
  rollbackCommand,
  stateRequestCommand,
  syncCommand,
];
