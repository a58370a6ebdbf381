/** A running server, as the runtime adapters' `serve` helpers return it. */
export interface Served {
  /** `http://host:port`, with the port actually bound. */
  url: string;
  port: number;
  close(): Promise<void>;
}
