/**
 * The experiments the notebooks and sweeps run, by name: each is a task module (plain data in, plain
 * data out) that lib/experiments/parallel.ts loads in its worker threads.
 *
 *   const results = await sweep('defendedAttack', jobs);   // lib/report/notebook.ts
 */
import * as path from 'path';

/** Task name -> compiled module path (what runParallel / runSweep load). */
export const TASKS = Object.freeze({
  /** One image, any shape, DLG with the default preset (lib/experiments/attack-image.ts). */
  attackImage: path.join(__dirname, 'attack-image.js'),
  /** A batch of images, joint or round-robin update, stopped once recovered (attack-batch.ts). */
  attackBatch: path.join(__dirname, 'attack-batch.js'),
  /** One photo against a defended gradient (defended-attack.ts). */
  defendedAttack: path.join(__dirname, 'defended-attack.js'),
  /** Train with a defense, or attack a defended held-out digit (train-defended.ts). */
  trainDefended: path.join(__dirname, 'train-defended.js'),
  /** DLG on a sentence through a BERT masked LM (text.ts). */
  text: path.join(__dirname, 'text.js'),
  /** What a federated server recovers; DLG beside Inverting Gradients (federated.ts, notebook 08). */
  federated: path.join(__dirname, 'federated.js'),
  /** The paper's ResNets: cost, DLG and Inverting Gradients, gradient norms (resnet.ts, notebook 09). */
  resnet: path.join(__dirname, 'resnet.js'),
  /** DP-SGD and the paper's defenses: accuracy and a strong attacker's leakage (dp-frontier.ts, notebook 11). */
  dpFrontier: path.join(__dirname, 'dp-frontier.js'),
});
export type TaskName = keyof typeof TASKS;

export { runParallel, progressBar } from './parallel';
export type { PoolOptions } from './parallel';
export { runSweep, parseShard, shardJobs, readRecords, latestResults } from './sweep';
export type { Shard, SweepRecord, SweepOptions, SweepResult } from './sweep';
export type { AttackImageJob, AttackImageResult } from './attack-image';
export type { AttackBatchJob, AttackBatchResult } from './attack-batch';
export type { DefendedAttackJob, DefendedAttackResult, CurvePoint } from './defended-attack';
export type { DefenseJob, DefenseJobResult, TrainJob, TrainJobResult, AttackJob, AttackJobResult } from './train-defended';
export { SPLIT_SEED, TEST_COUNT, TRAIN_DEFAULTS, digitsSplit, digitsLenet, nearestDigit } from './train-defended';
export type { TextAttackJob, TextAttackResult, TextVariant, VariantRow, PaperRow as TextPaperRow } from './text';
export { TEXT_VARIANTS, variantJobs, variantTable, paperRows } from './text';
export { PAPER_SENTENCES, HELD_OUT_SENTENCES } from './text-sentences';
export type { ResNetJob, ResNetResult, CostResult as ResNetCostResult, AttackResult as ResNetAttackResult, NormsResult as ResNetNormsResult } from './resnet';
export type { FederatedJob, FederatedResult, FederatedSettings, ClientResult, AggregateResult, FedAvgResult, DuelResult, DuelVariant, Scored } from './federated';
export { DUEL_VARIANTS, lfwClients } from './federated';
export { batchLabelStudy, idlgStudy } from './labels';
export type { BatchLabelRow } from './labels';
export { photoFiles, photoLabel, photoJobs } from './defended-attack';
export type { PhotoJobsOptions } from './defended-attack';
export type { FrontierJob, FrontierResult, FrontierTrainJob, FrontierTrainResult, FrontierAttackJob, FrontierAttackResult, FrontierGrid, FrontierRow, AttackOutcome } from './dp-frontier';
export { dpSpec, frontierJobs, frontierTable, ATTACK_DEFAULTS } from './dp-frontier';
