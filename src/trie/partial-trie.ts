// A partial trie: the part of a trie a multiproof opens. Nodes on the proven paths are known
// (branches, and leaves or H0 where paths end); everything else is an opaque name. Multiproof
// verification rebuilds the root from it, and the stateless update edits it.

import { sharedKernel } from "../hash/kernel.ts";
import { EMBED_MAX, HASH_BYTES, isEmptyId, NODE_BYTES } from "./node.ts";
import { branchName } from "./proof-kernel.ts";

export { branchName };

/** An empty subtrie (H0). */
export interface PartialEmpty {
  readonly t: 0;
}
/** A leaf: its key, and its value when known (else only the value's hash). */
export interface PartialLeaf {
  readonly t: 1;
  readonly key: Uint8Array;
  readonly value: Uint8Array | null;
  readonly valueHash: Uint8Array | null;
  name: Uint8Array | null;
}
/** A branch whose children are both known to the partial trie. */
export interface PartialBranch {
  readonly t: 2;
  readonly left: PartialNode;
  readonly right: PartialNode;
  name: Uint8Array | null;
}
/**
 * A non-empty subtrie known only by its name: its kind is unknown (a GP name does not tell).
 * A left child's name may differ from the true one in its top bit, which no root commits to.
 */
export interface PartialOpaque {
  readonly t: 3;
  readonly name: Uint8Array;
}
/** One node of a partial trie. */
export type PartialNode = PartialEmpty | PartialLeaf | PartialBranch | PartialOpaque;

/** `PartialNode.t` of an empty subtrie. */
export const P_EMPTY = 0;
/** `PartialNode.t` of a leaf. */
export const P_LEAF = 1;
/** `PartialNode.t` of a branch with both children known. */
export const P_BRANCH = 2;
/** `PartialNode.t` of a subtrie known only by its name. */
export const P_OPAQUE = 3;

/** The empty subtrie. */
export const EMPTY_PARTIAL: PartialEmpty = Object.freeze({ t: P_EMPTY });

/** A node for a sibling name: H0 is the empty subtrie (no hash output is H0), else opaque. */
export function namedNode(name: Uint8Array): PartialNode {
  return isEmptyId(name) ? EMPTY_PARTIAL : { t: P_OPAQUE, name };
}

/** A leaf with a known value, or one known by its value hash (value null). */
export function leafNode(key: Uint8Array, value: Uint8Array | null, valueHash: Uint8Array | null = null): PartialLeaf {
  return { t: P_LEAF, key, value, valueHash, name: null };
}

/** A branch over two children. */
export function branchNode(left: PartialNode, right: PartialNode): PartialBranch {
  return { t: P_BRANCH, left, right, name: null };
}

const buf = new Uint8Array(NODE_BYTES);

/** The GP name of a partial node (computed once per leaf or branch, then cached). */
export function nameOf(node: PartialNode): Uint8Array {
  switch (node.t) {
    case P_EMPTY:
      return new Uint8Array(HASH_BYTES);
    case P_OPAQUE:
      return node.name;
    case P_LEAF: {
      if (node.name) return node.name;
      const kernel = sharedKernel();
      buf.set(node.key, 1);
      if (node.value !== null && node.value.length <= EMBED_MAX) {
        buf[0] = 0x80 | node.value.length;
        buf.set(node.value, 32);
        buf.fill(0, 32 + node.value.length);
      } else {
        buf[0] = 0xc0;
        if (node.value !== null) kernel.hash(node.value, buf, 32);
        else buf.set(node.valueHash as Uint8Array, 32);
      }
      node.name = new Uint8Array(HASH_BYTES);
      kernel.hashNode(buf, 0, node.name, 0);
      return node.name;
    }
    case P_BRANCH: {
      if (node.name) return node.name;
      node.name = branchName(nameOf(node.left), nameOf(node.right));
      return node.name;
    }
  }
}
