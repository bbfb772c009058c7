/** @fileoverview The compiler's version, recorded in every manifest and checkpoint. */
export const COMPILER_VERSION = "0.1.0";
