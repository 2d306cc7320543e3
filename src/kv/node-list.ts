// The replacement of one node by zero or more nodes, as the parent sees it.

/**
 * A run of sibling nodes at one level: page numbers, the separator that starts each (the first
 * one's separator is inherited from the node it replaces, so it is `null` here), and each
 * node's used bytes (-1 when unknown because the node was not touched).
 */
export class NodeList {
  /** Page number of each node. */
  pages: number[] = [];
  /** Least key bound of each node; index 0 is `null` (inherited from the parent). */
  seps: (Uint8Array | null)[] = [];
  /** Used bytes of each node, or -1 when unknown. */
  fills: number[] = [];

  /**
   * One node, in arrays of one element: a push onto empty arrays reserves 17 slots each, and
   * a commit edits ~1000 leaves in place, each giving its parent such a list.
   */
  static single(page: number, sep: Uint8Array | null, fill: number): NodeList {
    const out = new NodeList();
    out.pages = [page];
    out.seps = [sep];
    out.fills = [fill];
    return out;
  }

  /** Number of nodes. */
  get length(): number {
    return this.pages.length;
  }

  /** Appends a node. */
  push(page: number, sep: Uint8Array | null, fill: number): void {
    this.pages.push(page);
    this.seps.push(sep);
    this.fills.push(fill);
  }
}

/** Where freshly built pages go: the pager, seen by the node builders. */
export interface PageSink {
  /** Reserves a page number for a new page. */
  allocate(): number;
  /** A zeroed page buffer of `kind` to build a new page in. */
  page(kind: number): Uint8Array;
  /** Hands over the finished contents of a page reserved with `allocate`. */
  put(pageNo: number, page: Uint8Array): void;
}
