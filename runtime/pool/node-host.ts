/**
 * @fileoverview Node's thread host: worker_threads workers running the pool script as eval
 * code, released (unref) once started so that idle workers never keep a process alive.
 * Node's modules are passed in (from process.getBuiltinModule or the Node entry's imports), so
 * this file imports none and the runtime stays loadable by browsers.
 */
import type { PoolThread, ThreadHost } from "./host.js";

interface NodeWorker {
  postMessage(message: unknown): void;
  on(event: "message", handler: (message: unknown) => void): void;
  on(event: "error", handler: (error: Error) => void): void;
  on(event: "exit", handler: (code: number) => void): void;
  on(event: "messageerror", handler: () => void): void;
  unref(): void;
  terminate(): Promise<number>;
}

/** The two Node modules the host needs. */
export interface BuiltinModules {
  workerThreads: { Worker: new (source: string, options: { eval: true }) => NodeWorker };
  os: { availableParallelism?: () => number; cpus(): unknown[] };
}

export function nodeThreadHost(modules: BuiltinModules): ThreadHost {
  return {
    cores: () => (typeof modules.os.availableParallelism === "function" ? modules.os.availableParallelism() : modules.os.cpus().length) || 1,
    unavailable: () => null,
    canBlock: () => true,
    spawn(source) {
      const worker = new modules.workerThreads.Worker(source, { eval: true });
      return {
        post: (message) => worker.postMessage(message),
        onMessage: (handler) => worker.on("message", handler),
        onFailure(handler) {
          worker.on("error", (error) => handler(`${error.name}: ${error.message}`));
          worker.on("messageerror", () => handler("a message from the thread could not be read"));
          worker.on("exit", (code) => handler(`it exited with code ${code}`));
        },
        release: () => worker.unref(),
        terminate: () => void worker.terminate(),
      };
    },
  };
}
