/**
 * What every loader in lib/data returns, and the `limit` option they share.
 */
import type { Img } from './image';
import { fail } from './files';

/**
 * Images with one integer label each. `images[i]` is HWC in [0, 1] (see lib/image); `labels[i]` is
 * its class; `source` says where they came from (the file(s) read, and the format).
 * `names`, when present, gives each image a name (e.g. the file it was read from).
 * `classes`, when present, names the classes: `classes[labels[i]]`.
 */
export interface Dataset {
  images: Img[];
  labels: number[];
  source: string;
  names?: string[];
  classes?: string[];
}

/** Options every loader takes. */
export interface LimitOptions {
  /** Read only the first `limit` records (the whole file is still validated). Default: all. */
  limit?: number;
}

/** `limit` checked (a positive integer, or undefined for all) and capped at `count`. */
export function takeCount(limit: number | undefined, count: number, what: string, file: string): number {
  if (limit === undefined) return count;
  if (!Number.isInteger(limit) || limit < 1) fail(what, file, `limit must be a positive integer, got ${limit}`);
  return Math.min(limit, count);
}
