/** A running server, as the runtime adapters' `serve` helpers return it. */
export interface Served {
  /**
   * `http://host:port`, with the port actually bound: an IPv6 host in brackets, and a wildcard
   * address (`0.0.0.0`, `::`) as the loopback address of its family, which this machine can call.
   */
  url: string;
  port: number;
  close(): Promise<void>;
}
