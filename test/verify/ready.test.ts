import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { blake2b256, ready, toHex } from "../../src/verify.ts";

describe("bmt/verify: ready()", () => {
  it("resolves once (the same promise every call) and hashing works after it", async () => {
    const first = ready();
    assert.equal(ready(), first);
    await first;
    assert.equal(toHex(blake2b256(new TextEncoder().encode("abc"))), "0xbddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319");
  });
});
