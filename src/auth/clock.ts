/** Wall-clock time in (fractional) unix seconds: the unit of every JWT time claim. */
export function nowSeconds(): number {
  return Date.now() / 1000;
}
