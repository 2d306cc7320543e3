// `bmt get`: one key's value.
import { fromHex, KEY_BYTES, toHex } from "../../index.ts";
import { type Command, dbPath, flag, JSON_OPTION, positionals, printJson, UsageError } from "../command.ts";
import { readOnly } from "../db-access.ts";

/** A 31-byte hex key argument. */
export function keyArg(text: string, name: string): Uint8Array {
  try {
    return fromHex(text, name, KEY_BYTES);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

export const getCommand: Command = {
  name: "get",
  summary: "print a key's value",
  usage: `usage: bmt get --db PATH KEY [--json]

Prints KEY's value (KEY: 31 bytes of 0x hex) as 0x hex. Read-only: no lock.
  --json        {"key","value"}; value null when absent
Exit: 0 found, 1 absent (nothing printed without --json) or no database, 2 usage.`,
  options: { db: { type: "string" }, ...JSON_OPTION },
  run(args, io) {
    const db = dbPath(args);
    const [keyHex] = positionals(args, ["KEY"]);
    const key = keyArg(keyHex, "KEY");
    const value = readOnly(db, (d) => {
      using snapshot = d.beginRead();
      return snapshot.get(key);
    });
    if (flag(args, "json")) printJson(io, { key: toHex(key), value: value === undefined ? null : toHex(value) });
    else if (value !== undefined) io.out(toHex(value));
    return value === undefined ? 1 : 0;
  },
};
