// `bmt scan`: the entries of a key range, in key order.
import { fromHex, KEY_BYTES, toHex } from "../../index.ts";
import { type Command, dbPath, flag, JSON_OPTION, positionals, positiveInt, str, UsageError } from "../command.ts";
import { readOnly } from "../db-access.ts";

/** A key bound of up to 31 bytes of hex, padded to 31 bytes with `fill` (a prefix bound). */
export function keyBound(text: string, name: string, fill: number): Uint8Array {
  let bytes: Uint8Array;
  try {
    bytes = fromHex(text, name);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  if (bytes.length > KEY_BYTES) throw new UsageError(`${name} must be at most ${KEY_BYTES} bytes, got ${bytes.length}`);
  const key = new Uint8Array(KEY_BYTES).fill(fill);
  key.set(bytes);
  return key;
}

export const scanCommand: Command = {
  name: "scan",
  summary: "list the entries of a key range",
  usage: `usage: bmt scan --db PATH [START [END]] [--limit N] [--json]

Prints "0xKEY 0xVALUE" for each entry with START <= key <= END, in key order (read-only: no
lock). START and END are hex of up to 31 bytes, taken as prefixes: START is padded with 00
bytes and END with ff bytes (so "bmt scan --db D 0x01 0x01" lists every key starting 01).
Without START: from the first key; without END: to the last.
  --limit N     at most N entries
  --json        {"entries":[{"key","value"}],"more"} (more: the limit cut the listing)
Exit: 0 (also for no entries), 1 no database, 2 usage.`,
  options: { db: { type: "string" }, limit: { type: "string" }, ...JSON_OPTION },
  run(args, io) {
    const db = dbPath(args);
    const [startText, endText] = positionals(args, ["START", "END"], 0);
    const start = startText === undefined ? undefined : keyBound(startText, "START", 0x00);
    const end = endText === undefined ? undefined : keyBound(endText, "END", 0xff);
    if (start && end && Buffer.compare(start, end) > 0) throw new UsageError("START must not be after END");
    const limitText = str(args, "limit");
    const limit = limitText === undefined ? Number.POSITIVE_INFINITY : positiveInt(limitText, "--limit");
    const json = flag(args, "json");
    const entries: { key: string; value: string }[] = [];
    const more = readOnly(db, (d) => {
      using snapshot = d.beginRead();
      let n = 0;
      for (const [k, v] of snapshot.entriesSync(start ? { start } : {})) {
        if (end && Buffer.compare(k, end) > 0) return false;
        if (n === limit) return true;
        n++;
        if (json) entries.push({ key: toHex(k), value: toHex(v) });
        else io.out(`${toHex(k)} ${toHex(v)}`);
      }
      return false;
    });
    if (json) io.out(`{"entries":[${entries.map((e) => `\n${JSON.stringify(e)}`).join(",")}\n],"more":${more}}`);
    return 0;
  },
};
