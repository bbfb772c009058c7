/**
 * @fileoverview The examples menu: every `examples/*.cond` of the repository, bundled as text
 * at build time (Vite's import.meta.glob), by file name.
 */
const files = import.meta.glob("../../examples/*.cond", { query: "?raw", import: "default", eager: true }) as Record<string, string>;

export interface Example {
  name: string;
  source: string;
}

export const EXAMPLES: Example[] = Object.entries(files)
  .map(([path, source]) => ({ name: path.slice(path.lastIndexOf("/") + 1, -".cond".length), source }))
  .sort((a, b) => a.name.localeCompare(b.name));

export function exampleSource(name: string): string | undefined {
  return EXAMPLES.find((e) => e.name === name)?.source;
}
