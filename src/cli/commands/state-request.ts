// `bmt state-request`: a JAMNP-S CE 129 answer from a database, as it goes on a stream.
import { closeSync, openSync, writeSync } from "node:fs";
import { frameStateResponse } from "../../index.ts";
import { type Command, CommandFailure, dbPath, positionals, str, UsageError } from "../command.ts";
import { readOnly } from "../db-access.ts";
import { reason } from "../input.ts";
import { keyArg } from "./get.ts";

export const stateRequestCommand: Command = {
  name: "state-request",
  summary: "answer a JAMNP-S CE 129 state request (boundary nodes and pairs)",
  usage: `usage: bmt state-request --db PATH START END MAX_SIZE [--out FILE]

Answers a CE 129 state request from the database's state (read-only: no lock): message 1, the
64-byte GP encodings of the boundary nodes on the paths to START and to the last key returned;
message 2, the pairs "key (31) ++ len ++ value" with START <= key <= END, within MAX_SIZE bytes
(both messages together) unless it holds one pair. Written as on the stream: each message as
"u32 LE size ++ content", message 1 then message 2. START and END: 31 bytes of 0x hex.
  --out FILE    write to FILE instead of stdout
Exit: 0, 1 no database or FILE cannot be written, 2 usage.`,
  options: { db: { type: "string" }, out: { type: "string" } },
  run(args, io) {
    const db = dbPath(args);
    const [startHex, endHex, sizeText] = positionals(args, ["START", "END", "MAX_SIZE"]);
    const start = keyArg(startHex, "START");
    const end = keyArg(endHex, "END");
    if (Buffer.compare(start, end) > 0) throw new UsageError("START must not be after END");
    if (!/^[0-9]+$/.test(sizeText) || Number(sizeText) > 0xffffffff)
      throw new UsageError(`MAX_SIZE must be an integer in 0..4294967295 (a u32), got '${sizeText}'`);
    const bytes = readOnly(db, (d) => {
      using snapshot = d.beginRead();
      return frameStateResponse(snapshot.stateRequest(start, end, Number(sizeText)));
    });
    const out = str(args, "out");
    let fd = 1;
    try {
      if (out !== undefined) fd = openSync(out, "w");
      for (let at = 0; at < bytes.length; ) at += writeSync(fd, bytes, at);
    } catch (e) {
      throw new CommandFailure(`${out ?? "stdout"}: cannot write (${reason(e)})`);
    } finally {
      if (out !== undefined && fd !== 1) closeSync(fd);
    }
    io.err(`bmt state-request: ${bytes.length} bytes`);
    return 0;
  },
};
