// Constants shared by the kernels (AssemblyScript) and the compiler and runtime (TypeScript),
// written in the subset both languages read alike (`export const NAME = <integer>;`), so each is
// defined once. Codes of the tree kernels (runtime/kernels/tree.ts).

/** Gater bits of `treeBits`. */
export const TREE_BITS_DETERMINISTIC = 0;
export const TREE_BITS_REINFORCE = 1;
export const TREE_BITS_NOISY = 2;

/** Node learning-rate multiplier of `treeUpdate` / `treeUnitUpdate`. */
export const TREE_LEVEL_UNIFORM = 0;
export const TREE_LEVEL_SCALED = 1;
export const TREE_LEVEL_BUCKET = 2;
