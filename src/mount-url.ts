/** Whether `url` is an absolute http(s) URL with something after the scheme. */
export function isHttpUrl(url: string | undefined): url is string {
  return !!url && /^https?:\/\/./i.test(url) && URL.canParse(url);
}

/**
 * A worker's mount URL as the broker signs it and the runtime shows it to the worker (lower-case
 * host, no default port, no empty "?", escapes), without its trailing slash: the client writes
 * `workerUrl` and the worker reads `publicUrl` through this, so one string works in both. `query`
 * is its query string (`?...` or empty), which goes after the job's name. `url` must pass
 * {@link isHttpUrl}.
 */
export function mountUrl(url: string): { base: string; query: string } {
  const parsed = new URL(url);
  const query = parsed.search;
  parsed.search = "";
  parsed.hash = "";
  return { base: parsed.href.replace(/\/+$/, ""), query };
}
