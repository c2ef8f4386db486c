/**
 * The engine every computation of the toolkit runs on: `tf` from backend.ts plus our two fixes,
 * applied once on import:
 *   - twice.ts: gradients that are correct at second order (DLG differentiates a gradient);
 *   - kernels.ts: fast flat-loop CPU kernels for what the attack hammers (pure-JS backend only).
 * DLG_FAST_KERNELS=0 keeps tfjs's stock CPU kernels (for benchmarks and cross-checks).
 */
import { tf, backendInfo } from './backend';
import { installTwiceDifferentiableGradients } from './twice';
import { installFastKernels, fastKernelsInstalled } from './kernels';

installTwiceDifferentiableGradients();
if (process.env.DLG_FAST_KERNELS !== '0') installFastKernels();

/** e.g. "cpu (pure JS ...); fast kernels on" */
export function engineInfo(): string {
  return `${backendInfo()}; fast kernels ${fastKernelsInstalled() ? 'on' : 'off'}`;
}

export { tf };
