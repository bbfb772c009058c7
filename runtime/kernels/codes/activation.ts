// Constants shared by the kernels (AssemblyScript) and the compiler and runtime (TypeScript),
// written in the subset both languages read alike (`export const NAME = <integer>;`), so each is
// defined once. Activation codes of the block-sparse kernels' `kind` argument.

export const ACTIVATION_LINEAR = 0;
export const ACTIVATION_RELU = 1;
export const ACTIVATION_TANH = 2;
export const ACTIVATION_SIGMOID = 3;
