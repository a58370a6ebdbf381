/**
 * The URL a caller on this machine reaches a server bound to `host` and `port` at: an IPv6 host in
 * brackets, and a wildcard address (`0.0.0.0`, `::`) as the loopback address of its family, since
 * a wildcard is something to bind, not to connect to.
 */
export function localUrl(host: string, port: number): string {
  const name = host === "0.0.0.0" ? "127.0.0.1" : host === "::" ? "::1" : host;
  return `http://${name.includes(":") ? `[${name}]` : name}:${port}`;
}
