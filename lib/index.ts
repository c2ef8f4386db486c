/**
 * deep-leakage-ts: the public entry. One import gives a notebook or a script everything:
 *
 *   import { makeCase, dlg, attackReport, loadImage, show, check } from '../dist/lib';
 *
 * The library's shape (one folder an idea):
 *   engine/       one tf, made twice differentiable and fast (useEngine), the fused DLG objective
 *   models/       the models the clients train (LeNet, ResNets, a dense layer, BERT), by name, and their gradients
 *   data/         datasets and images
 *   cases/        a client: model + private data + its defense -> the gradient it shares; federated rounds, training
 *   defenses/     what a client may do to its gradient before sharing it
 *   attacks/      what the attacker does with the gradient alone (DLG, Inverting Gradients, text, labels, analytic)
 *   analysis/     scores against the truth (only here): metrics, matching, reports, statistics
 *   experiments/  the runs the notebooks and sweeps make (task modules, worker threads, resumable sweeps)
 *   report/       figures, tables, progress, and the notebook kit
 *   config.ts     the attack's presets and its one validated merge
 */
export * from './engine';
export * from './config';
export * from './rng';

export * from './models/model';
export * from './models/nn';
export * from './models/gradients';
export * from './models/per-example';
export * from './models/lenet';
export * from './models/dense';
export * from './models/bert';
export * from './models/resnet';
export * from './models/index';

export * from './data';
export * from './data/image';
export * from './data/wordpiece';

export * from './cases/case';
export * from './cases/federated';
export * from './cases/train';
export * from './cases/text';
export * from './cases/masking';

export * from './defenses';
export * from './defenses/accountant';
export * from './defenses/step-privacy';

export * from './attacks/dlg';
export * from './attacks/objective';
export * from './attacks/labels';
export * from './attacks/inverting';
export * from './attacks/text';
export * from './attacks/decode';
export * from './attacks/analytic';
export * from './attacks/federated';
export * from './attacks/optim/lbfgs';
export * from './attacks/optim/adam';
export * from './attacks/optim/round-robin';

export * from './analysis/metrics';
export * from './analysis/match';
export * from './analysis/score';
export * from './analysis/report';
export * from './analysis/labels';
export * from './analysis/text';
export * from './analysis/stats';
export * from './analysis/gradients';

export * from './experiments';

export * from './report/plot';
export * from './report/table';
export * from './report/progress';
export * from './report/grid';
export * from './report/gallery';
export * from './report/progress-row';
export * from './report/notebook';
export * from './report/results';
