// The in-memory meta bytes of the bucket table: one byte per bucket, so probing touches no disk
// until a fingerprint matches. Linear probing keeps probe runs in adjacent bytes (one cache
// line covers 64 buckets) and lets a delete turn a run's trailing tombstones back into empties.

/** Meta byte of a bucket never written (or freed at the end of a probe run). */
export const META_EMPTY = 0;
/** Meta byte of a deleted bucket inside a probe run; probes pass over it. */
export const META_TOMBSTONE = 1;
/** Bit set in the meta byte of an occupied bucket; the low 7 bits are the id's fingerprint. */
export const META_OCCUPIED = 0x80;

/** Meta byte of an occupied bucket whose id has fingerprint `fp` (7 bits). */
export function occupiedMeta(fp: number): number {
  return META_OCCUPIED | fp;
}

/** Meta bytes of a table of a power-of-two number of buckets, with live counts. */
export class BucketTable {
  /** One byte per bucket: META_EMPTY, META_TOMBSTONE or occupiedMeta(fp). */
  readonly meta: Uint8Array;
  /** Number of buckets (a power of two). */
  readonly buckets: number;
  /** `buckets - 1`, to reduce a hash to a bucket. */
  readonly mask: number;
  /** Buckets holding a page. */
  occupied = 0;
  /** Buckets holding a tombstone. */
  tombstones = 0;

  /** Wraps `meta` (its length is the bucket count) and counts its states. */
  constructor(meta: Uint8Array) {
    this.meta = meta;
    this.buckets = meta.length;
    this.mask = meta.length - 1;
    for (let i = 0; i < meta.length; i++) {
      const m = meta[i];
      if (m >= META_OCCUPIED) this.occupied++;
      else if (m === META_TOMBSTONE) this.tombstones++;
    }
  }

  /** Sets bucket `b`'s meta byte to `v`, keeping the counts right. */
  set(b: number, v: number): void {
    const old = this.meta[b];
    if (old >= META_OCCUPIED) this.occupied--;
    else if (old === META_TOMBSTONE) this.tombstones--;
    if (v >= META_OCCUPIED) this.occupied++;
    else if (v === META_TOMBSTONE) this.tombstones++;
    this.meta[b] = v;
  }

  /** Fraction of buckets that end no probe (occupied or tombstone). */
  get load(): number {
    return (this.occupied + this.tombstones) / this.buckets;
  }

  /**
   * Bucket `b` was just vacated: make it a tombstone, or, when the run ends right after it,
   * an empty together with the tombstones before it. `onChange(bucket, oldMeta)` is told of
   * every byte changed, before the change.
   */
  vacate(b: number, onChange: (bucket: number, old: number) => void): void {
    if (this.meta[(b + 1) & this.mask] !== META_EMPTY) {
      onChange(b, this.meta[b]);
      this.set(b, META_TOMBSTONE);
      return;
    }
    onChange(b, this.meta[b]);
    this.set(b, META_EMPTY);
    // Bounded by the table size in case every other bucket is a tombstone.
    for (let i = 1, p = (b - 1) & this.mask; i < this.buckets && this.meta[p] === META_TOMBSTONE; i++, p = (p - 1) & this.mask) {
      onChange(p, META_TOMBSTONE);
      this.set(p, META_EMPTY);
    }
  }

  /** First empty bucket on the probe run of bucket hash `h`; for a table without tombstones. */
  firstEmpty(h: number): number {
    let b = h & this.mask;
    while (this.meta[b] !== META_EMPTY) b = (b + 1) & this.mask;
    return b;
  }
}
