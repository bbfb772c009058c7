/**
 * @fileoverview `condc train FILE`: compiles the model, trains it on a data set with the
 * file's settings (overridable), prints per-epoch test accuracy, saves a checkpoint; on the
 * wasm build or the GPU (`--backend`).
 */
import { writeFileAtomic } from "../runtime/node/files.js";
import { trainModelAsync, type EpochReport } from "../runtime/train.js";
import { BACKEND_USAGE, parseBackend, release } from "./backend.js";
import { parseCommandArgs } from "./args.js";
import type { Command } from "./command.js";
import { CliError, ExitCode, processIO, type CliIO } from "./io.js";
import { progressPrinter } from "./progress.js";
import { figuresJson, figuresText } from "./report-format.js";
import { compileAndLoad, loadData, parseDataOption, positiveInteger, positiveNumber, prepareOutput, reportingRuntimeErrors, seedFlag, threadsFlag } from "./session.js";

const USAGE = `usage: condc train FILE [--data mnist|fashion-mnist|idx:DIR] [--epochs N] [--batch N]
                  [--lr X] [--seed N] [--out CKPT] [--threads N] [--backend B] [--plain-simd] [--json]

Trains a model with the settings of its 'train' block; options override them.
  --data SET      mnist (10,000 digits bundled), fashion-mnist (Debian dataset-fashion-mnist)
                  or idx:DIR (train/t10k images and labels in IDX format, optionally .gz)
  --out CKPT      write the trained weights (safetensors), atomically
  --threads N     threads to run on (default: the cores); the weights are the same for any N
${BACKEND_USAGE}
  --plain-simd    use the plain-SIMD build even where relaxed SIMD (FMA) is available
  --json          print one JSON object (test_accuracy, examples_per_second, epochs, ...)`;

async function runTrain(args: string[], io: CliIO): Promise<number> {
  const { positionals, values } = parseCommandArgs("train", args, {
    data: { type: "string" },
    epochs: { type: "string" },
    batch: { type: "string" },
    lr: { type: "string" },
    seed: { type: "string" },
    out: { type: "string", short: "o" },
    threads: { type: "string" },
    json: { type: "boolean", default: false },
    "plain-simd": { type: "boolean", default: false },
    backend: { type: "string" },
  });
  if (positionals.length !== 1) throw new CliError(`condc train: expected one model file\n${USAGE}`);
  const file = positionals[0]!;
  const epochsOption = positiveInteger("train", "epochs", values.epochs);
  const batchOption = positiveInteger("train", "batch", values.batch);
  const lrOption = positiveNumber("train", "lr", values.lr);
  const seedOption = seedFlag("train", values.seed);
  const threads = threadsFlag("train", values.threads);
  const dataOption = typeof values.data === "string" ? parseDataOption("train", values.data) : undefined;
  const json = values.json === true;
  const backend = parseBackend("train", values.backend);

  if (typeof values.out === "string") await prepareOutput("train", values.out);
  return reportingRuntimeErrors("train", async () => {
    const peek = await compileAndLoad(io, "train", file, { maxBatch: batchOption, plain: values["plain-simd"] === true, backend, threads });
    const { model, result, simd } = peek;
    try {
      const settings = result.ir.train;
      const batch = batchOption ?? settings.batch;
      if (batch > model.maxBatch) throw new CliError(`condc train: --batch ${batch} exceeds the build's max batch ${model.maxBatch}`);
      const epochs = epochsOption ?? settings.epochs;
      const seed = seedOption ?? settings.seed;
      const lr = lrOption ?? settings.optimizer.lr;
      const dataSpec = dataOption ?? settings.data;
      const data = await loadData(dataSpec, result.manifest.input.width, result.manifest.classes);
      if (!json) io.stdout(`${result.manifest.model}: ${result.manifest.cost.parameters} parameters, ${data.train.name} ${data.train.count} train / ${data.test.count} test, ${epochs} epochs, batch ${batch}, ${model.backend === "webgpu" ? "WebGPU" : `${simd} SIMD, ${model.threads} thread${model.threads === 1 ? "" : "s"}`}`);

      await model.init(seed);
      const conditional = model.manifest.layers.some((l) => l.method !== "dense");
      const progress = progressPrinter(!json && io === processIO);
      const t0 = performance.now();
      const run = await trainModelAsync(model, data.train, data.test, {
        epochs,
        batch,
        seed,
        lr,
        schedule: settings.schedule,
        onProgress: (p) => progress.update(p),
        onEpoch: (e: EpochReport) => {
          progress.clear();
          if (!json) {
            io.stdout(`epoch ${e.epoch}/${epochs}: train loss ${e.trainLoss.toFixed(4)}, train acc ${(100 * e.trainAccuracy).toFixed(2)}%, test acc ${(100 * e.test.accuracy).toFixed(2)}%, ${Math.round(e.examplesPerSecond)} ex/s`);
          }
          if (conditional && !json) {
            io.stdout("  training:");
            for (const line of figuresText(e.trainFigures)) io.stdout(`  ${line}`);
            io.stdout("  test:");
            for (const line of figuresText(e.testFigures)) io.stdout(`  ${line}`);
          }
        },
      });
      const seconds = (performance.now() - t0) / 1000;
      if (typeof values.out === "string") await writeFileAtomic(values.out, await model.save());
      if (json) {
        io.stdout(JSON.stringify({
          model: result.manifest.model,
          file,
          data: data.train.name,
          simd,
          backend: model.backend,
          threads: model.backend === "wasm" ? model.threads : null,
          epochs: run.epochs.map((e) => ({
            epoch: e.epoch,
            train_loss: e.trainLoss,
            train_accuracy: e.trainAccuracy,
            test_accuracy: e.test.accuracy,
            test_loss: e.test.loss,
            lr: e.lr,
            seconds: e.seconds,
            ...figuresJson(e.trainFigures),
            test: figuresJson(e.testFigures),
          })),
          ...(run.epochs.length > 0 ? figuresJson(run.epochs[run.epochs.length - 1]!.testFigures) : {}),
          test_accuracy: run.testAccuracy,
          examples_per_second: run.examplesPerSecond,
          seconds,
          checkpoint: typeof values.out === "string" ? values.out : null,
        }));
      } else {
        io.stdout(`test accuracy ${(100 * run.testAccuracy).toFixed(2)}%, ${Math.round(run.examplesPerSecond)} training examples/s, ${seconds.toFixed(1)} s${typeof values.out === "string" ? `, weights in ${values.out}` : ""}`);
      }
      return ExitCode.ok;
    } finally {
      release(model);
    }
  });
}

export const trainCommand: Command = {
  name: "train",
  usage: USAGE,
  run: runTrain,
};
