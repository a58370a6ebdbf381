const canonical = new Map<string, string>();

/** Go's canonical header name, as QStash shows headers: `x-api-key` → `X-Api-Key`. */
export function canonicalHeader(name: string): string {
  let result = canonical.get(name);
  if (result === undefined) {
    result = name.toLowerCase().replace(/(^|-)([a-z])/g, (_, dash: string, letter: string) => dash + letter.toUpperCase());
    // Memoized: a broker sees the same few names on every message.
    if (canonical.size >= 1024) canonical.clear();
    canonical.set(name, result);
  }
  return result;
}

/** Adds a value to a QStash-style `{Name: [values]}` header map. */
export function addHeader(map: Record<string, string[]>, name: string, value: string): void {
  const key = canonicalHeader(name);
  (map[key] ??= []).push(value);
}

/** A `{Name: [values]}` map of a `Headers` object. */
export function headerMap(headers: Headers): Record<string, string[]> {
  const map: Record<string, string[]> = {};
  headers.forEach((value, name) => addHeader(map, name, value));
  return map;
}
