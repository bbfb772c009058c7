/**
 * @fileoverview The compiler's own failure: a bug in condc, never caused by the model file.
 * It names the stage (and the layer, where one is being compiled) so a report is actionable.
 */
export class InternalCompilerError extends Error {
  constructor(message: string, readonly stage?: string, readonly layer?: string) {
    super(`${stage ? `${stage}: ` : ""}${layer ? `layer '${layer}': ` : ""}${message}`);
    this.name = "InternalCompilerError";
  }
}
