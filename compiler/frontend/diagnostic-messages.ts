/**
 * @fileoverview The table of generic diagnostics: stable code, severity and message template;
 * each method adds its own (`MethodUnit.messages`), and `allMessages` lists both. Codes never
 * change meaning; CD1xxx lexing/syntax, CD2xxx names and structure,
 * CD3xxx values, shapes and limits, CD4xxx warnings, CD5xxx back end (build).
 * `{x}` is filled from arguments.
 */

export type Severity = "error" | "warning";

export interface DiagnosticMessage {
  code: string;
  severity: Severity;
  template: string;
}

function error(code: string, template: string): DiagnosticMessage {
  return { code, severity: "error", template };
}

function warning(code: string, template: string): DiagnosticMessage {
  return { code, severity: "warning", template };
}

export const Messages = {
  // Lexing and syntax.
  unexpectedCharacter: error("CD1001", "unexpected character '{char}'"),
  unterminatedComment: error("CD1002", "unterminated block comment: '/*' has no closing '*/'"),
  unterminatedString: error("CD1003", "unterminated string: a string must close with '\"' on the same line"),
  malformedNumber: error("CD1004", "malformed number '{text}'"),
  zeroDenominator: error("CD1005", "fraction '{text}' divides by zero"),
  numberOutOfRange: error("CD1006", "number '{text}' is too large to represent"),
  sourceTooLarge: error("CD1007", "the file has {size} characters, more than the {limit} a model file may have"),
  nestingTooDeep: error("CD1008", "brackets nested more than {limit} deep; nothing in the language nests deeper than {needed}"),
  tooManyErrors: error("CD1009", "too many errors: the first {limit} are listed, {dropped} more were found; fix these and check again"),
  expectedToken: error("CD1010", "expected {expected}, found {found}"),
  expectedOneOf: error("CD1011", "expected {expected}, found {found}"),
  trailingInput: error("CD1012", "unexpected {found}: expected {expected}"),

  // Names and structure.
  duplicateBlock: error("CD2001", "only one '{block}' block is allowed; the first is at line {line}"),
  missingModel: error("CD2002", "the file has no 'model' block"),
  unknownLayerKind: error("CD2003", "unknown layer kind '{kind}'"),
  duplicateName: error("CD2004", "'{name}' is already declared at line {line}"),
  unknownName: error("CD2005", "unknown name '{name}'"),
  usedBeforeDeclared: error("CD2006", "'{name}' is used before it is declared (line {line}); layers may only use names declared above them"),
  unknownActivation: error("CD2007", "unknown activation '{name}'"),
  unknownGate: error("CD2008", "unknown gate '{name}'"),
  unknownOption: error("CD2009", "unknown option '{option}' for {context}"),
  duplicateOption: error("CD2010", "option '{option}' is given more than once"),
  missingOption: error("CD2011", "{context} needs {option}"),
  missingDeclaration: error("CD2012", "the model has no '{decl}' declaration"),
  extraDeclaration: error("CD2013", "the model may have only one '{decl}'; the first is at line {line}"),
  noLayers: error("CD2014", "the model has no layers"),
  unknownElementType: error("CD2015", "unknown input element type '{name}'; inputs are 'f32'"),
  unknownTargetType: error("CD2016", "unknown target type '{name}'; targets are 'class'"),
  unknownLossFunction: error("CD2017", "unknown loss function '{name}'"),
  unknownPenalty: error("CD2018", "unknown penalty '{name}'"),
  argumentCount: error("CD2019", "'{fn}' takes {expected}, got {got}"),
  notALayer: error("CD2020", "'{name}' is {what}, not a layer"),
  notTheTarget: error("CD2021", "the loss's second argument must be the target '{target}', got '{name}'"),
  sourceIsTarget: error("CD2022", "'{name}' is the target; a layer's source is the input or an earlier layer"),
  selfReference: error("CD2023", "layer '{name}' cannot use itself as its source"),
  unknownSetting: error("CD2024", "unknown train setting '{name}'"),
  duplicateSetting: error("CD2025", "setting '{name}' is given more than once; the first is at line {line}"),
  unknownDataset: error("CD2026", "unknown dataset '{name}'"),
  unknownOptimizer: error("CD2027", "unknown optimizer '{name}'"),
  unknownSchedule: error("CD2029", "unknown schedule '{name}'"),
  keywordAsName: error("CD2030", "'{name}' is a keyword and cannot name a declaration"),

  // Values, shapes and limits.
  notAnInteger: error("CD3001", "{what} must be an integer, got {value}"),
  outOfRange: error("CD3002", "{what} must be {constraint}, got {value}"),
  wrongValueType: error("CD3003", "{what} expects {expected}, got {got}"),
  invalidChoice: error("CD3004", "{what} must be one of {choices}, got '{value}'"),
  logitsWidthMismatch: error("CD3005", "the loss's logits '{name}' have {width} units but target '{target}' has {classes} classes"),
  gateOnOutput: error("CD3009", "the output layer '{layer}' (the loss's logits) cannot carry a gate"),
  datasetWidthMismatch: error("CD3011", "dataset '{data}' has {width}-wide examples but input '{input}' is {inputWidth} wide"),
  datasetClassMismatch: error("CD3012", "dataset '{data}' has {classes} classes but target '{target}' has {targetClasses}"),
  modelTooLarge: error("CD3013", "the model's parameters need {bytes} bytes, more than the 4 GiB WebAssembly memory"),
  gateOnKind: error("CD3014", "gate '{gate}' cannot be put on {kind} layer '{layer}': {reason}"),
  tooManyLayers: error("CD3015", "the model has {count} layers, more than the {limit} condc compiles; this is layer {index}"),
  roundsOutOfRange: error("CD3016", "{what} must be {constraint}, got {value}, which is {rounded} in 32-bit floating point"),
  beyondFloat32: error("CD3017", "{what} is {value}, beyond the largest 32-bit float (about 3.4e38)"),

  // Back end (build).
  memoryPlanTooLarge: error("CD5002", "the compiled model needs {bytes} bytes of memory (parameters, gradients, optimizer state and activations at max batch {maxBatch}), more than the 4 GiB WebAssembly memory"),

  // Warnings.
  unusedLayer: warning("CD4002", "layer '{layer}' does not feed the loss's logits '{logits}'"),
  tooManyWarnings: warning("CD4005", "too many warnings: the first {limit} are listed, {dropped} more were found"),
} as const satisfies Record<string, DiagnosticMessage>;

export type MessageId = keyof typeof Messages;

/** Every message, generic and the given methods', in code order (docs, the uniqueness test). */
export function allMessages(methods: readonly { messages: Record<string, DiagnosticMessage> }[] = []): DiagnosticMessage[] {
  const all = [...Object.values(Messages as Record<string, DiagnosticMessage>), ...methods.flatMap((m) => Object.values(m.messages))];
  return all.sort((a, b) => a.code.localeCompare(b.code));
}
