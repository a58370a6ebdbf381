import { contentKey, type Dedup } from "./dedup.ts";
import type { Engine, Entry } from "./engine/engine.ts";
import { ApiError, badRequest, notFound } from "./errors.ts";
import { ids } from "./ids.ts";
import { httpUrl, name as checkName, type PublishSpec } from "./publish-options.ts";
import type { GroupWriter } from "./store/writer.ts";
import type { PublishResult, StoredMessage, TopicRecord } from "./types.ts";

/** One publish: a destination (URL or URL-group name) and its parsed options. */
export interface PublishRequest {
  destination: string;
  spec: PublishSpec;
  body: Uint8Array;
  queueName?: string;
  callerIp?: string;
  scheduleId?: string;
}

/** What a publish answers: one result per URL, or an array for a URL group. */
export interface PublishOutcome {
  status: 201 | 202;
  result: PublishResult | PublishResult[];
}

type Target = { url: string; topicName?: string; endpointName?: string };

/**
 * Turns publish requests into stored messages: resolves URL groups, applies deduplication, stages
 * the inserts, waits for their commit (the acknowledgement), then hands them to the engine.
 * A batch is all or nothing: every item is validated before any is staged.
 */
export class Publisher {
  readonly #engine: Engine;
  readonly #writer: GroupWriter;
  readonly #dedup: Dedup;
  readonly #topics: Map<string, TopicRecord>;
  readonly #maxBodyBytes: number;

  constructor(engine: Engine, writer: GroupWriter, dedup: Dedup, topics: Map<string, TopicRecord>, maxBodyBytes: number) {
    this.#engine = engine;
    this.#writer = writer;
    this.#dedup = dedup;
    this.#topics = topics;
    this.#maxBodyBytes = maxBodyBytes;
  }

  /** Publishes, and resolves after the messages are committed. */
  async publish(requests: PublishRequest[]): Promise<PublishOutcome[]> {
    const targets = requests.map((request) => {
      if (request.body.length > this.#maxBodyBytes) {
        throw new ApiError(413, `message body of ${request.body.length} bytes is over the limit of ${this.#maxBodyBytes} bytes`);
      }
      if (request.queueName !== undefined) checkName(request.queueName, "queue name");
      return this.resolve(request.destination);
    });
    // Only a content hash needs an await; most batches have no deduplication at all.
    const keys = requests.some((request) => request.spec.contentBasedDeduplication && request.spec.deduplicationId === undefined)
      ? await Promise.all(requests.map((request) => dedupKey(request)))
      : requests.map((request) => idKey(request));

    // From here on nothing awaits until the commit, so dedup checks and staging see one state.
    const now = Date.now();
    const outcomes: PublishOutcome[] = [];
    const entries: Entry[] = [];
    const remembered: string[] = [];
    requests.forEach((request, i) => {
      const key = keys[i];
      const previous = key === undefined ? undefined : this.#dedup.get(key, now);
      if (previous !== undefined) {
        outcomes.push({ status: 202, result: markDeduplicated(previous as PublishResult | PublishResult[]) });
        return;
      }
      const items = targets[i]!.map((target) => ({ message: buildMessage(request, target, now), body: request.body }));
      const results: PublishResult[] = items.map(({ message }) => ({ messageId: message.messageId, url: message.url }));
      const isGroup = targets[i]!.some((t) => t.topicName !== undefined);
      const result = isGroup ? results : results[0]!;
      entries.push(...this.#engine.stage(items));
      if (key !== undefined) {
        this.#dedup.put(key, result, now);
        remembered.push(key);
      }
      outcomes.push({ status: 201, result });
    });
    try {
      await this.#writer.commit();
    } catch (error) {
      for (const key of remembered) this.#dedup.forget(key);
      this.#engine.unstage(entries);
      throw new ApiError(500, `could not store the message: ${(error as Error).message}`);
    }
    this.#engine.admit(entries);
    return outcomes;
  }

  /** The URLs a destination stands for: itself, or a URL group's endpoints. */
  resolve(destination: string): Target[] {
    if (/^[a-z][a-z0-9+.-]*:/i.test(destination)) return [{ url: checkedUrl(destination) }];
    if (destination === "") throw badRequest("missing destination: publish to /v2/publish/<url or URL group name>");
    try {
      checkName(destination, "destination");
    } catch {
      throw badRequest(`invalid destination "${destination}": expected an http(s) URL or a URL group name`);
    }
    const topic = this.#topics.get(destination);
    if (!topic) throw notFound(`no URL group named "${destination}" (and not an http(s) URL)`);
    if (topic.endpoints.length === 0) throw badRequest(`URL group "${destination}" has no endpoints`);
    return topic.endpoints.map((e) => ({ url: e.url, topicName: topic.name, ...(e.name ? { endpointName: e.name } : {}) }));
  }
}

const checkedUrls = new Set<string>();

/** {@link httpUrl} for a destination, remembering the good ones: a producer uses a few URLs. */
function checkedUrl(destination: string): string {
  if (checkedUrls.has(destination)) return destination;
  httpUrl(destination, "destination");
  if (checkedUrls.size >= 1024) checkedUrls.clear();
  checkedUrls.add(destination);
  return destination;
}

function buildMessage(request: PublishRequest, target: Target, now: number): StoredMessage {
  const { spec } = request;
  const notBefore = spec.notBefore ?? now + (spec.delay ?? 0) * 1000;
  const message: StoredMessage = { messageId: ids.message(), url: target.url, ...spec.template, notBefore, createdAt: now };
  if (request.queueName) message.queueName = request.queueName;
  if (target.topicName) message.topicName = target.topicName;
  if (target.endpointName) message.endpointName = target.endpointName;
  if (request.callerIp) message.callerIp = request.callerIp;
  if (request.scheduleId) message.scheduleId = request.scheduleId;
  return message;
}

async function dedupKey(request: PublishRequest): Promise<string | undefined> {
  const { spec } = request;
  if (spec.deduplicationId !== undefined) return idKey(request);
  if (spec.contentBasedDeduplication) return `content:${await contentKey(request.destination, spec.template.header, request.body)}`;
  return undefined;
}

/** The key of an explicit `Upstash-Deduplication-Id`, if any. */
function idKey(request: PublishRequest): string | undefined {
  const { spec } = request;
  return spec.deduplicationId === undefined ? undefined : `id:${request.destination}\n${spec.deduplicationId}`;
}

function markDeduplicated(result: PublishResult | PublishResult[]): PublishResult | PublishResult[] {
  return Array.isArray(result) ? result.map((r) => ({ ...r, deduplicated: true })) : { ...result, deduplicated: true };
}
