import type { Store } from "./store/store.ts";
import type { GroupWriter } from "./store/writer.ts";

/**
 * Deduplication ids seen within the window, with the answer their first publish got. Kept in
 * memory (and stored, so a restart still deduplicates); expired ids are pruned lazily.
 */
export class Dedup {
  readonly #seen = new Map<string, { response: unknown; expires: number }>();
  readonly #store: Store;
  readonly #writer: GroupWriter;
  readonly windowMs: number;
  #lastPrune = 0;

  constructor(store: Store, writer: GroupWriter, windowMs: number) {
    this.#store = store;
    this.#writer = writer;
    this.windowMs = windowMs;
    const now = Date.now();
    for (const row of store.liveDedup(now)) this.#seen.set(row.key, { response: JSON.parse(row.response), expires: row.expires });
  }

  /** The first publish's answer, while its id is inside the window. */
  get(key: string, now: number): unknown {
    const hit = this.#seen.get(key);
    if (!hit) return undefined;
    if (hit.expires <= now) {
      this.#seen.delete(key);
      return undefined;
    }
    return hit.response;
  }

  /** Remembers an id for the window (stored with the publish's own commit). */
  put(key: string, response: unknown, now: number): void {
    const expires = now + this.windowMs;
    this.#seen.set(key, { response, expires });
    this.#writer.write(() => this.#store.putDedup(key, JSON.stringify(response), expires));
    if (now - this.#lastPrune > 60_000) this.#prune(now);
  }

  /** Forgets an id whose publish did not commit. */
  forget(key: string): void {
    this.#seen.delete(key);
  }

  #prune(now: number): void {
    this.#lastPrune = now;
    for (const [key, hit] of this.#seen) if (hit.expires <= now) this.#seen.delete(key);
    this.#writer.write(() => this.#store.pruneDedup(now));
  }
}

/** Hex SHA-256 of the parts that make two publishes "the same content" (§3). */
export async function contentKey(destination: string, header: Record<string, string[]>, body: Uint8Array): Promise<string> {
  const headers = Object.keys(header)
    .sort()
    .map((name) => `${name}:${header[name]!.join(",")}`)
    .join("\n");
  const prefix = new TextEncoder().encode(`${destination}\n${headers}\n\n`);
  const all = new Uint8Array(prefix.length + body.length);
  all.set(prefix);
  all.set(body, prefix.length);
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", all));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}
