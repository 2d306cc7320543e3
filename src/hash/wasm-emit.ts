// A minimal WebAssembly binary writer: just what the hash kernels need. The kernels are
// generated as code (not shipped as an opaque .wasm), so every instruction is reviewable here
// and in blake2b-module.ts, and no build step or download is needed at install time.

/** Value types used by the kernels. */
export const I32 = 0x7f;
export const I64 = 0x7e;

/** Opcodes used by the kernels (WebAssembly core spec, section 5.4). */
export const Op = {
  block: 0x02,
  loop: 0x03,
  br: 0x0c,
  brIf: 0x0d,
  end: 0x0b,
  call: 0x10,
  localGet: 0x20,
  localSet: 0x21,
  localTee: 0x22,
  i32Load: 0x28,
  i64Load: 0x29,
  i32Load8U: 0x2d,
  i32Store: 0x36,
  i64Store: 0x37,
  i32Const: 0x41,
  i64Const: 0x42,
  i32Eqz: 0x45,
  i32LtU: 0x49,
  i32Add: 0x6a,
  i32Sub: 0x6b,
  i32Shl: 0x74,
  i64Add: 0x7c,
  i64Sub: 0x7d,
  i64And: 0x83,
  i64Xor: 0x85,
  i64RotR: 0x8a,
  i64ExtendI32U: 0xad,
} as const;

const EMPTY_BLOCK = 0x40;

/** Appends unsigned LEB128. */
function uleb(out: number[], value: number): void {
  let v = value >>> 0;
  do {
    let byte = v & 0x7f;
    v >>>= 7;
    if (v !== 0) byte |= 0x80;
    out.push(byte);
  } while (v !== 0);
}

/** Appends signed LEB128 of a 64-bit value. */
function sleb64(out: number[], value: bigint): void {
  let v = BigInt.asIntN(64, value);
  for (;;) {
    const byte = Number(v & 0x7fn);
    v >>= 7n;
    const done = (v === 0n && (byte & 0x40) === 0) || (v === -1n && (byte & 0x40) !== 0);
    out.push(done ? byte : byte | 0x80);
    if (done) return;
  }
}

/** Body of one function: locals beyond the parameters, then instructions. */
export class FunctionBody {
  readonly code: number[] = [];
  private readonly localTypes: number[] = [];

  constructor(private readonly paramCount: number) {}

  /** Declares a local and returns its index. */
  local(type: number): number {
    this.localTypes.push(type);
    return this.paramCount + this.localTypes.length - 1;
  }

  op(opcode: number): this {
    this.code.push(opcode);
    return this;
  }
  get(index: number): this {
    this.code.push(Op.localGet);
    uleb(this.code, index);
    return this;
  }
  set(index: number): this {
    this.code.push(Op.localSet);
    uleb(this.code, index);
    return this;
  }
  tee(index: number): this {
    this.code.push(Op.localTee);
    uleb(this.code, index);
    return this;
  }
  i32(value: number): this {
    this.code.push(Op.i32Const);
    sleb64(this.code, BigInt(value | 0));
    return this;
  }
  i64(value: bigint): this {
    this.code.push(Op.i64Const);
    sleb64(this.code, value);
    return this;
  }
  /** A load or store with a static byte offset; alignment hint is the natural one. */
  mem(opcode: number, offset: number): this {
    const align = opcode === Op.i64Load || opcode === Op.i64Store ? 3 : opcode === Op.i32Load8U ? 0 : 2;
    this.code.push(opcode, align);
    uleb(this.code, offset);
    return this;
  }
  block(): this {
    this.code.push(Op.block, EMPTY_BLOCK);
    return this;
  }
  loop(): this {
    this.code.push(Op.loop, EMPTY_BLOCK);
    return this;
  }
  br(depth: number): this {
    this.code.push(Op.br);
    uleb(this.code, depth);
    return this;
  }
  brIf(depth: number): this {
    this.code.push(Op.brIf);
    uleb(this.code, depth);
    return this;
  }
  call(index: number): this {
    this.code.push(Op.call);
    uleb(this.code, index);
    return this;
  }

  /** Encoded body: local declarations (run-length grouped by type), code, end. */
  encode(): number[] {
    const groups: Array<[number, number]> = [];
    for (const t of this.localTypes) {
      const last = groups[groups.length - 1];
      if (last && last[1] === t) last[0]++;
      else groups.push([1, t]);
    }
    const body: number[] = [];
    uleb(body, groups.length);
    for (const [count, type] of groups) {
      uleb(body, count);
      body.push(type);
    }
    body.push(...this.code, Op.end);
    const out: number[] = [];
    uleb(out, body.length);
    return out.concat(body);
  }
}

interface FunctionDef {
  name: string;
  params: number[];
  results: number[];
  body: FunctionBody;
}

/** A module with one exported memory and exported functions. */
export class ModuleBuilder {
  private readonly functions: FunctionDef[] = [];

  constructor(private readonly memoryPages: number) {}

  /** Adds a function and returns its index (for `call`) and body to fill. */
  func(name: string, params: number[], results: number[] = []): { index: number; body: FunctionBody } {
    const body = new FunctionBody(params.length);
    this.functions.push({ name, params, results, body });
    return { index: this.functions.length - 1, body };
  }

  encode(): Uint8Array {
    const out: number[] = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
    const section = (id: number, content: number[]) => {
      out.push(id);
      uleb(out, content.length);
      out.push(...content);
    };
    const vec = (items: number[][]) => {
      const v: number[] = [];
      uleb(v, items.length);
      for (const item of items) v.push(...item);
      return v;
    };
    const name = (s: string) => {
      const bytes = Array.from(s, (c) => c.charCodeAt(0));
      const v: number[] = [];
      uleb(v, bytes.length);
      return v.concat(bytes);
    };
    // Types: one per function (duplicates are legal and keep this simple).
    section(1, vec(this.functions.map((f) => [0x60, ...vec(f.params.map((p) => [p])), ...vec(f.results.map((r) => [r]))])));
    section(
      3,
      vec(
        this.functions.map((_, i) => {
          const v: number[] = [];
          uleb(v, i);
          return v;
        }),
      ),
    );
    const limits: number[] = [0x00];
    uleb(limits, this.memoryPages);
    section(5, vec([limits]));
    const exports: number[][] = [[...name("memory"), 0x02, 0x00]];
    this.functions.forEach((f, i) => {
      const e = [...name(f.name), 0x00];
      uleb(e, i);
      exports.push(e);
    });
    section(7, vec(exports));
    section(10, vec(this.functions.map((f) => f.body.encode())));
    return Uint8Array.from(out);
  }
}
