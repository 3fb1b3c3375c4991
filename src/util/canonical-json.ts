// JSON that compares equal when two objects mean the same to the API server: keys in
// sorted order, and null members left out (a merge patch removes them; the server
// stores none).

export function canonicalJson(v: unknown): string {
  return JSON.stringify(v, (_k, x) =>
    x && typeof x === 'object' && !Array.isArray(x)
      ? Object.fromEntries(
          Object.entries(x)
            .filter(([, m]) => m !== null && m !== undefined)
            .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
        )
      : x,
  );
}
