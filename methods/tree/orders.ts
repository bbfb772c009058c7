/**
 * @fileoverview Each unit's gater order of layout `per_unit` computed in TypeScript, the same as the
 * kernel `treeUnitOrders` (runtime/kernels/tree.ts): for the GPU's copy and for a model loaded from
 * a checkpoint without init (the orders are not checkpoint tensors; they depend on the shape alone).
 */

/** order [units x k]: unit j's Fisher-Yates permutation of 0..k-1 from xorshift32 seeded j · 0x9E3779B9 + 0x7F4A7C15. */
export function unitOrders(units: number, k: number): Int32Array {
  const order = new Int32Array(units * k);
  for (let j = 0; j < units; j++) {
    const row = order.subarray(j * k, (j + 1) * k);
    for (let i = 0; i < k; i++) row[i] = i;
    let s = (Math.imul(j, 0x9e3779b9) + 0x7f4a7c15) >>> 0;
    for (let i = k - 1; i >= 1; i--) {
      s = (s ^ (s << 13)) >>> 0;
      s = (s ^ (s >>> 17)) >>> 0;
      s = (s ^ (s << 5)) >>> 0;
      const r = s % (i + 1);
      const a = row[i]!;
      row[i] = row[r]!;
      row[r] = a;
    }
  }
  return order;
}
