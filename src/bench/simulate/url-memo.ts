// Parsing each distinct URL string once while a simulation runs. Why: membership.ts compares
// every listen URL of a remote list it receives with its own by parsing both (sameUrl: two
// WHATWG URL parses per entry, before the registry lookup that would skip a known node). With
// all N nodes in one process that was 51% of the 300-node run's CPU (N^3 entries in a cold
// start), and kept the 1000-node run from finishing. The product's code still runs unchanged:
// only `new URL(s)` of a string already parsed returns the URL parsed then (nothing on the
// simulated path mutates one). Every call is counted, so the report can state what the real
// node spends there (calls x the cost of one parse, product-costs.ts).

/** URL constructions asked for, and how many of them were parsed for real. */
export interface UrlParses {
  calls: number;
  parsed: number;
}

/** Runs `work` with the memo in place of the global URL; the global is restored after. */
export async function withUrlMemo<T>(work: () => Promise<T>, counts: UrlParses): Promise<T> {
  const real = globalThis.URL;
  globalThis.URL = memoUrl(real, counts);
  try {
    return await work();
  } finally {
    globalThis.URL = real;
  }
}

/**
 * A constructor that returns the URL parsed before for a string it has seen (a constructor
 * returning an object yields that object to `new`). A plain function, not a Proxy: ~3x cheaper
 * per call, and it is called twice per remote entry. Statics and instanceof as the real URL's.
 */
function memoUrl(real: typeof URL, counts: UrlParses): typeof URL {
  const cache = new Map<string, URL>();
  function MemoUrl(input: string | URL, base?: string | URL): URL {
    if (base !== undefined || typeof input !== 'string') return new real(input, base);
    counts.calls++;
    let url = cache.get(input);
    if (url === undefined) {
      url = new real(input);
      counts.parsed++;
      cache.set(input, url);
    }
    return url;
  }
  MemoUrl.prototype = real.prototype;
  Object.setPrototypeOf(MemoUrl, real);
  return MemoUrl as unknown as typeof URL;
}
