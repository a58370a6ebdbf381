import type { SigningKeys } from "../signing.ts";
import type { Dedup } from "./dedup.ts";
import type { Engine } from "./engine/engine.ts";
import type { Publisher } from "./publisher.ts";
import type { Schedules } from "./schedules.ts";
import type { Store } from "./store/store.ts";
import type { GroupWriter } from "./store/writer.ts";
import type { TopicRecord } from "./types.ts";

/** Everything the HTTP routes work with; built by `createBroker`. */
export interface BrokerCore {
  store: Store;
  writer: GroupWriter;
  engine: Engine;
  publisher: Publisher;
  dedup: Dedup;
  schedules: Schedules;
  topics: Map<string, TopicRecord>;
  /** Mutable: `POST /v2/keys/rotate` replaces them. */
  keys: SigningKeys;
  token: string;
  maxBodyBytes: number;
  rotateKeys(): Promise<SigningKeys>;
  onError(error: unknown): void;
}
