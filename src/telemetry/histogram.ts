// histogram_quantile computed over bucket rates already fetched: the graph fetches the
// buckets once per workload pair and sums them per edge of whatever graph type is
// drawn, so each edge's percentile is the one Prometheus would give grouped by that edge.

/** Cumulative bucket values by upper bound (le); +Inf as Infinity. */
export type Buckets = Map<number, number>;

export function addBucket(into: Buckets, le: number, value: number): void {
  into.set(le, (into.get(le) ?? 0) + value);
}

/** Prometheus's bucketQuantile: linear interpolation inside the bucket holding the rank; NaN without observations or a +Inf bucket. */
export function histogramQuantile(q: number, buckets: Buckets): number {
  if (Number.isNaN(q)) return Number.NaN;
  if (q < 0) return Number.NEGATIVE_INFINITY;
  if (q > 1) return Number.POSITIVE_INFINITY;
  const sorted = [...buckets].sort((a, b) => a[0] - b[0]);
  if (sorted.length < 2 || sorted[sorted.length - 1][0] !== Number.POSITIVE_INFINITY) return Number.NaN;
  // Rates of cumulative counters taken at slightly different moments can dip; Prometheus evens them out the same way.
  for (let i = 1; i < sorted.length; i++) if (sorted[i][1] < sorted[i - 1][1]) sorted[i] = [sorted[i][0], sorted[i - 1][1]];
  const total = sorted[sorted.length - 1][1];
  if (!(total > 0)) return Number.NaN;
  let rank = q * total;
  const b = sorted.findIndex(([, v]) => v >= rank);
  if (b === sorted.length - 1) return sorted[sorted.length - 2][0];
  if (b === 0 && sorted[0][0] <= 0) return sorted[0][0];
  const start = b === 0 ? 0 : sorted[b - 1][0];
  const end = sorted[b][0];
  const below = b === 0 ? 0 : sorted[b - 1][1];
  const count = sorted[b][1] - below;
  rank -= below;
  return count > 0 ? start + (end - start) * (rank / count) : end;
}
