import { waitFor } from "../helpers/wait.ts";
import { type Broker, type BrokerEvent, type BrokerOptions, createBroker } from "../../src/broker/index.ts";

/** A request a loopback destination received. */
export interface Received {
  path: string;
  url: string;
  method: string;
  headers: Headers;
  body: string;
  at: number;
}

/** A real HTTP destination on 127.0.0.1 that records what it receives. */
export interface Destination {
  url: string;
  received: Received[];
  /** Replaces how it answers (default: 200 "ok"). */
  respond: (handler: (request: Received) => Response | Promise<Response>) => void;
  close(): void;
}

/** Starts a destination server on a free port. */
export function startDestination(): Destination {
  const received: Received[] = [];
  let handler: (request: Received) => Response | Promise<Response> = () => new Response("ok");
  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    idleTimeout: 0,
    async fetch(request) {
      const url = new URL(request.url);
      const entry: Received = {
        path: url.pathname + url.search,
        url: request.url,
        method: request.method,
        headers: request.headers,
        body: await request.text(),
        at: Date.now(),
      };
      received.push(entry);
      return handler(entry);
    },
  });
  return {
    url: `http://127.0.0.1:${server.port}`,
    received,
    respond: (h) => void (handler = h),
    close: () => void server.stop(true),
  };
}

/** A broker for a test, with its events collected. */
export interface TestBroker extends Broker {
  events: BrokerEvent[];
  /** Resolves with the first event (already seen or future) matching, or throws after `timeoutMs`. */
  waitForEvent(match: (event: BrokerEvent) => boolean, timeoutMs?: number): Promise<BrokerEvent>;
  /** `fetch` against the broker API with the token. */
  api(path: string, init?: RequestInit): Promise<Response>;
}

/** Starts an in-memory broker on a free port, silent, collecting its events. */
export async function startBroker(options: BrokerOptions = {}): Promise<TestBroker> {
  const events: BrokerEvent[] = [];
  const waiters: { match: (e: BrokerEvent) => boolean; resolve: (e: BrokerEvent) => void }[] = [];
  const broker = await createBroker({
    port: 0,
    memory: true,
    log: false,
    ...options,
    onEvent(event) {
      events.push(event);
      for (const waiter of [...waiters]) {
        if (waiter.match(event)) {
          waiters.splice(waiters.indexOf(waiter), 1);
          waiter.resolve(event);
        }
      }
      options.onEvent?.(event);
    },
  });
  return Object.assign(broker, {
    events,
    waitForEvent(match: (event: BrokerEvent) => boolean, timeoutMs = 5000) {
      const seen = events.find(match);
      if (seen) return Promise.resolve(seen);
      return new Promise<BrokerEvent>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no matching event within ${timeoutMs} ms; saw: ${events.map((e) => `${e.state} ${e.messageId}`).join(", ")}`)), timeoutMs);
        waiters.push({ match, resolve: (e) => { clearTimeout(timer); resolve(e); } });
      });
    },
    api(path: string, init: RequestInit = {}) {
      const headers = new Headers(init.headers);
      if (!headers.has("authorization")) headers.set("authorization", `Bearer ${broker.token}`);
      return fetch(`${broker.url}${path}`, { ...init, headers });
    },
  });
}

/** Polls until `check` returns a truthy value, or throws after `timeoutMs` (test/helpers/wait.ts). */
export async function waitUntil<T>(check: () => T | Promise<T>, timeoutMs = 5000, what = "condition"): Promise<NonNullable<T>> {
  return (await waitFor(what, check, timeoutMs)) as NonNullable<T>;
}
