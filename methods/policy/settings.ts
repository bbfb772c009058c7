/**
 * @fileoverview The train block's `policy = reinforce(...)` setting: how learned policies are
 * trained (tree gaters trained by REINFORCE use their own signal, not these settings). Defaults are the condnet CIFAR-10 settings with
 * the authors' batch-min baseline (docs/methods/policy.md).
 */
import type { OptionSpec, OptionValues } from "../../compiler/frontend/options.js";
import type { TrainSettingSpec } from "../unit.js";
import { POLICY_MESSAGES } from "./messages.js";

export interface ReinforceSettings {
  kind: "reinforce";
  lr: number;
  lambdaS: number;
  lambdaV: number;
  l2: number;
  baseline: "none" | "batch_min" | "batch_mean" | "moving_average";
  /** Regularizer forms: the paper's (default) or the authors' code's. */
  regularizer: "paper" | "code";
}

export const REINFORCE_DEFAULTS: ReinforceSettings = {
  kind: "reinforce",
  lr: 1e-5,
  lambdaS: 20,
  lambdaV: 20,
  l2: 0,
  baseline: "batch_min",
  regularizer: "paper",
};

const positive = (name: string): OptionSpec => ({ name, kind: "number", min: 0, minInclusive: false });
const nonNegative = (name: string): OptionSpec => ({ name, kind: "number", min: 0 });

function read(_call: string, v: OptionValues): ReinforceSettings {
  const num = (name: string, fallback: number) => (typeof v.get(name) === "number" ? (v.get(name) as number) : fallback);
  const d = REINFORCE_DEFAULTS;
  return {
    kind: "reinforce",
    lr: num("lr", d.lr),
    lambdaS: num("lambda_s", d.lambdaS),
    lambdaV: num("lambda_v", d.lambdaV),
    l2: num("l2", d.l2),
    baseline: (v.get("baseline") as ReinforceSettings["baseline"] | undefined) ?? d.baseline,
    regularizer: (v.get("regularizer") as ReinforceSettings["regularizer"] | undefined) ?? d.regularizer,
  };
}

export const reinforceSetting: TrainSettingSpec = {
  name: "policy",
  calls: {
    reinforce: {
      positional: [],
      options: [
        positive("lr"),
        nonNegative("lambda_s"),
        nonNegative("lambda_v"),
        nonNegative("l2"),
        { name: "baseline", kind: "choice", choices: ["none", "batch_min", "batch_mean", "moving_average"] },
        { name: "regularizer", kind: "choice", choices: ["paper", "code"] },
      ],
    },
  },
  read,
  defaultValue: () => ({ ...REINFORCE_DEFAULTS }),
  unknownCall: POLICY_MESSAGES.unknownTrainer,
  unused: POLICY_MESSAGES.unusedSettings,
};
