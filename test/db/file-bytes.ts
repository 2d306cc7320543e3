// The bytes of one in-memory file, shared by the test file systems that inject faults
// (fault-fs.ts) and lose power (power-fs.ts): grown on write, zero-filled over gaps.

/** One file's bytes; `length` is the file size, `bytes` may be longer. */
export class Data {
  bytes = new Uint8Array(0);
  length = 0;
  write(buf: Uint8Array, pos: number): void {
    const end = pos + buf.length;
    if (end > this.bytes.length) {
      const grown = new Uint8Array(Math.max(end, this.bytes.length * 2, 4096));
      grown.set(this.bytes.subarray(0, this.length));
      this.bytes = grown;
    }
    if (pos > this.length) this.bytes.fill(0, this.length, pos);
    this.bytes.set(buf, pos);
    if (end > this.length) this.length = end;
  }
  truncate(size: number): void {
    if (size > this.length) this.write(new Uint8Array(size - this.length), this.length);
    else this.length = size;
  }
  copy(): Data {
    const d = new Data();
    d.bytes = this.bytes.slice(0, Math.max(this.length, 1));
    d.length = this.length;
    return d;
  }
}
