/**
 * A lean HTTP/1.1 client for deliveries to `http://` destinations on Bun: the request is written by
 * hand on a `Bun.connect` socket kept alive per origin, and the response is parsed here. A delivery
 * is one small request whose framing needs little of what `fetch` does, and `fetch` costs several
 * times more CPU per request (a Request, Headers and AbortSignal per call, a hop to its own thread);
 * at a few thousand deliveries a second that was the broker's largest cost. Whatever this client does
 * not carry (https, credentials in the URL, headers the framing owns, other runtimes) goes through
 * `fetch` as before: see {@link httpTarget}.
 */

import { Buffer } from "node:buffer";

/** Where a request goes: the socket's address and the request line's parts. */
export interface HttpTarget {
  /** The pool key, `hostname:port`. */
  origin: string;
  hostname: string;
  port: number;
  /** The `Host` header. */
  host: string;
  /** Path and query, percent-encoded as `URL` normalizes them. */
  path: string;
}

/** A response: status, the head as received (see {@link headerLines}), and the whole body. */
export interface HttpResponse {
  status: number;
  head: string;
  body: Uint8Array;
}

/** A response head's header lines as `[name, value]`, in order (most deliveries never need them). */
export function headerLines(head: string): [string, string][] {
  const headers: [string, string][] = [];
  const lines = head.split("\r\n");
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    const colon = line.indexOf(":");
    if (colon > 0) headers.push([line.slice(0, colon), line.slice(colon + 1).trim()]);
  }
  return headers;
}

/**
 * The value of a header in `head`, found through `lower` (its lowercased copy) by `needle`, the
 * header's `\r\nname:` in lowercase; null when absent.
 */
function headerValue(head: string, lower: string, needle: string): string | null {
  const at = lower.indexOf(needle);
  if (at < 0) return null;
  const start = at + needle.length;
  const end = lower.indexOf("\r\n", start);
  return head.slice(start, end < 0 ? undefined : end).trim();
}

/** The error of a request that ran past its timeout (the connection is dropped). */
export class HttpTimeoutError extends Error {
  constructor(ms: number) {
    super(`timed out after ${ms} ms`);
    this.name = "HttpTimeoutError";
  }
}

type BunSocket = {
  data: Connection;
  write(data: Uint8Array): number;
  end(): void;
  terminate(): void;
  ref(): void;
  unref(): void;
};
type BunConnect = (options: {
  hostname: string;
  port: number;
  data: Connection;
  socket: typeof HANDLERS;
}) => Promise<BunSocket>;

const bunConnect = (globalThis as { Bun?: { connect?: BunConnect } }).Bun?.connect;

const targets = new Map<string, HttpTarget | null>();

/**
 * The target of `url` when {@link Http1Client} can carry it (an `http:` URL without credentials),
 * else undefined. Parsed once per URL: a worker usually receives everything at a few URLs.
 */
export function httpTarget(url: string): HttpTarget | undefined {
  let target = targets.get(url);
  if (target === undefined) {
    target = null;
    try {
      const parsed = new URL(url);
      if (parsed.protocol === "http:" && !parsed.username && !parsed.password) {
        const port = parsed.port ? Number(parsed.port) : 80;
        // IPv6 literals come bracketed in URLs, bare in a socket address.
        const hostname = parsed.hostname.startsWith("[") ? parsed.hostname.slice(1, -1) : parsed.hostname;
        target = { origin: `${hostname}:${port}`, hostname, port, host: parsed.host, path: parsed.pathname + parsed.search };
      }
    } catch {
      // not a URL this client reads: fetch reports it
    }
    if (targets.size >= 1024) targets.clear();
    targets.set(url, target);
  }
  return target ?? undefined;
}

const CR = 13;
const LF = 10;
const CRLF2 = Buffer.from("\r\n\r\n");
const LF2 = Buffer.from("\n\n");
const LFCRLF = Buffer.from("\n\r\n");
/**
 * A reused connection closed this soon after the request was written, with no answer: the
 * server's idle close crossing our write, so the request is sent again on a new connection. Later,
 * the server may have read the request and died working on it: the attempt fails (and is retried
 * as one, visibly), rather than being sent twice within one attempt.
 */
const STALE_CLOSE_MS = 100;
/** A response head, a chunk-size line or the trailers longer than this fail the request. */
export const MAX_RESPONSE_HEAD = 64 * 1024;

/**
 * Response parsing states: the head; a Content-Length body; a body ended by close; a chunked body's
 * size line, data, the line end after the data, and the trailers after the last chunk.
 */
const Read = { Head: 0, Length: 1, UntilClose: 2, ChunkSize: 3, ChunkData: 4, ChunkEnd: 5, Trailers: 6 } as const;
type ReadState = (typeof Read)[keyof typeof Read];

/** One keep-alive socket and the parse state of its current response. */
class Connection {
  socket: BunSocket | undefined;
  pending: Pending | undefined;
  /** Unsent bytes of the request, written on `drain`. */
  unsent: Uint8Array | undefined;
  /**
   * Received bytes of a line-framed part (the head, a chunk-size line, the trailers) not parsed
   * yet; after a response, any bytes past it. Body bytes never wait here: they go to `parts` as
   * they come, so a large body costs no copying per packet.
   */
  buffer: Buffer = EMPTY;
  received = false;
  closed = false;
  state: ReadState = Read.Head;
  status = 0;
  head = "";
  keepAlive = true;
  /** Body bytes still to come: of the Content-Length (Length), or of the current chunk (ChunkData). */
  remaining = 0;
  /** The body's parts so far, and their total length. */
  parts: Uint8Array[] = [];
  have = 0;

  readonly pool: Connection[];

  constructor(pool: Connection[]) {
    this.pool = pool;
  }

  /** Sends a request; its response (or error) settles `pending`. */
  send(request: Uint8Array, pending: Pending): void {
    this.pending = pending;
    this.received = false;
    this.state = Read.Head;
    this.buffer = EMPTY;
    this.parts = [];
    this.have = 0;
    pending.sentAt = performance.now();
    const written = this.socket!.write(request);
    if (written < request.length) this.unsent = request.subarray(Math.max(0, written));
  }

  drain(): void {
    const unsent = this.unsent;
    if (!unsent || !this.socket) return;
    const written = this.socket.write(unsent);
    this.unsent = written < unsent.length ? unsent.subarray(Math.max(0, written)) : undefined;
  }

  onData(chunk: Buffer): void {
    if (!this.pending) {
      // Nothing was asked: a server talking out of turn. Drop the connection.
      this.destroy();
      return;
    }
    this.received = true;
    try {
      const data = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
      this.buffer = EMPTY;
      this.parse(data);
    } catch (error) {
      this.fail(error as Error);
    }
  }

  /** The peer closed (or the socket failed): ends a read-until-close body, fails anything else. */
  onClose(error?: Error): void {
    if (this.closed) return;
    this.closed = true;
    this.socket = undefined;
    const index = this.pool.indexOf(this);
    if (index >= 0) this.pool.splice(index, 1);
    const pending = this.pending;
    if (!pending) return;
    if (this.state === Read.UntilClose && !error) {
      this.complete(this.joined());
      return;
    }
    this.pending = undefined;
    if (!this.received && pending.mayRetry && (this.unsent !== undefined || performance.now() - pending.sentAt < STALE_CLOSE_MS)) {
      pending.client.send(pending, undefined);
      return;
    }
    pending.reject(error ?? new Error("the connection closed before the response was complete"));
  }

  /** Drops the socket; a request in flight fails with `error`. */
  fail(error: Error): void {
    const pending = this.pending;
    this.pending = undefined;
    this.destroy();
    pending?.reject(error);
  }

  destroy(): void {
    this.closed = true;
    const index = this.pool.indexOf(this);
    if (index >= 0) this.pool.splice(index, 1);
    this.socket?.terminate();
    this.socket = undefined;
  }

  /**
   * Takes body bytes. Past the request's `maxBody`, the response ends there: the body is cut at
   * `maxBody` bytes and the connection, with the rest unread, is not reused. Returns whether it ended.
   */
  keep(bytes: Uint8Array): boolean {
    if (bytes.length === 0) return false;
    this.parts.push(bytes);
    this.have += bytes.length;
    const max = this.pending!.maxBody;
    if (this.have <= max) return false;
    this.keepAlive = false;
    this.buffer = EMPTY;
    this.complete(this.joined().subarray(0, max));
    return true;
  }

  /** The body's parts so far, as one array (the part itself when there is one). */
  joined(): Uint8Array {
    return this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts);
  }

  /** Takes up to `remaining` body bytes of `data` from `at`; returns where it stopped, or -1 if the response ended. */
  takeBody(data: Buffer, at: number): number {
    const take = Math.min(this.remaining, data.length - at);
    if (this.keep(data.subarray(at, at + take))) return -1;
    this.remaining -= take;
    return at + take;
  }

  /** Parses `data` (what was left unparsed, then what came) according to the state. */
  parse(data: Buffer): void {
    let at = 0;
    for (;;) {
      switch (this.state) {
        case Read.Head: {
          // The status line's end tells the head's line ends: CRLF, or bare LF, which a recipient
          // may accept (RFC 9112 §2.2; fetch does). Searched for by that kind only, so a CRLFCRLF
          // in the body of a bare-LF response is never taken for the head's end.
          const firstLf = data.indexOf(LF, at);
          if (firstLf < 0) return this.wait(data, at, "response head");
          let end: number;
          let next: number;
          let head: string;
          if (firstLf > at && data[firstLf - 1] === CR) {
            end = data.indexOf(CRLF2, at);
            if (end < 0) return this.wait(data, at, "response head");
            next = end + 4;
            head = data.toString("latin1", at, end);
          } else {
            end = firstOf(data.indexOf(LF2, at), data.indexOf(LFCRLF, at));
            if (end < 0) return this.wait(data, at, "response head");
            next = data[end + 1] === LF ? end + 2 : end + 3;
            head = data.toString("latin1", at, end).replace(/\r?\n/g, "\r\n").replace(/\r$/, "");
          }
          this.state = this.readHead(head);
          at = next;
          if (this.state === Read.Length && this.remaining === 0) return this.end(data, at, EMPTY);
          continue;
        }
        case Read.Length: {
          at = this.takeBody(data, at);
          if (at < 0 || this.remaining > 0) return; // cut at maxBody, or all of `data` taken and more to come
          return this.end(data, at, this.joined());
        }
        case Read.UntilClose:
          this.keep(data.subarray(at)); // onClose ends it
          return;
        case Read.ChunkSize: {
          const lineEnd = data.indexOf(LF, at);
          if (lineEnd < 0) return this.wait(data, at, "chunk size line");
          // parseInt stops at a chunk extension (`;name=value`) and at the CR.
          const size = parseInt(data.toString("latin1", at, lineEnd), 16);
          if (!(size >= 0)) throw new Error("malformed chunked response");
          at = lineEnd + 1;
          this.remaining = size;
          this.state = size === 0 ? Read.Trailers : Read.ChunkData;
          continue;
        }
        case Read.ChunkData: {
          at = this.takeBody(data, at);
          if (at < 0 || this.remaining > 0) return;
          this.state = Read.ChunkEnd;
          continue;
        }
        case Read.ChunkEnd: {
          // CRLF, or a bare LF as in the head.
          if (data.length - at < 1 || (data[at] === CR && data.length - at < 2)) return this.wait(data, at, "chunk");
          if (data[at] === LF) at += 1;
          else if (data[at] === CR && data[at + 1] === LF) at += 2;
          else throw new Error("malformed chunked response");
          this.state = Read.ChunkSize;
          continue;
        }
        case Read.Trailers: {
          // The last chunk's line is read; then an empty line, or trailer fields and an empty line.
          let end: number;
          if (data.length - at >= 2 && data[at] === CR && data[at + 1] === LF) end = at + 2;
          else if (data.length - at >= 1 && data[at] === LF) end = at + 1;
          else {
            const crlf = data.indexOf(CRLF2, at);
            const bare = firstOf(data.indexOf(LF2, at), data.indexOf(LFCRLF, at));
            const trailers = firstOf(crlf, bare);
            if (trailers < 0) return this.wait(data, at, "trailers");
            end = trailers === crlf ? crlf + 4 : data[trailers + 1] === LF ? trailers + 2 : trailers + 3;
          }
          return this.end(data, end, this.joined());
        }
      }
    }
  }

  /** Keeps the unparsed rest of `data` for the next packet; a line-framed part has a size bound. */
  wait(data: Buffer, at: number, what: string): void {
    if (data.length - at > MAX_RESPONSE_HEAD) throw new Error(`malformed response: ${what} over ${MAX_RESPONSE_HEAD / 1024} KB`);
    this.buffer = at === 0 ? data : data.subarray(at);
  }

  /** The response ended at `at` in `data`; anything past it is kept (and keeps the connection from reuse). */
  end(data: Buffer, at: number, body: Uint8Array): void {
    this.buffer = at < data.length ? Buffer.from(data.subarray(at)) : EMPTY;
    this.complete(body);
  }

  /** Reads a response head; returns the state it leads to (still Head after a 1xx). */
  readHead(head: string): ReadState {
    // "HTTP/1.x", a space, three digits, then a space or the line's end: Number() alone reads "2e2" as 200.
    const line = /^HTTP\/1\.[01] ([1-9]\d\d)(?: |\r|$)/.exec(head);
    if (!line) throw new Error(`malformed response: ${JSON.stringify(head.slice(0, 40))}`);
    const status = Number(line[1]);
    if (status >= 100 && status < 200 && status !== 101) return Read.Head; // 100 Continue and friends: the real response follows
    // Only the framing headers are read here, from a lowercased copy; the rest when asked for.
    const lower = head.toLowerCase();
    const connection = headerValue(head, lower, "\r\nconnection:")?.toLowerCase();
    const length = headerValue(head, lower, "\r\ncontent-length:");
    const chunked = headerValue(head, lower, "\r\ntransfer-encoding:")?.toLowerCase().includes("chunked") ?? false;
    this.status = status;
    this.head = head;
    this.keepAlive = connection?.includes("close") ? false : connection?.includes("keep-alive") || head.startsWith("HTTP/1.1");
    const contentLength = length === null || length === "" ? Number.NaN : Number(length);
    if (this.pending!.head || status === 204 || status === 304 || status === 101) {
      this.remaining = 0;
      return Read.Length;
    }
    if (chunked) return Read.ChunkSize;
    if (contentLength >= 0 && Number.isSafeInteger(contentLength)) {
      this.remaining = contentLength;
      return Read.Length;
    }
    this.keepAlive = false;
    return Read.UntilClose;
  }

  complete(body: Uint8Array): void {
    const pending = this.pending!;
    this.pending = undefined;
    // A copy, so that the body does not keep the whole receive buffer alive.
    const response: HttpResponse = { status: this.status, head: this.head, body: new Uint8Array(body) };
    // Reused only when both sides are done: nothing left over, and the whole request sent (a
    // server may answer before reading all of it).
    if (this.keepAlive && this.buffer.length === 0 && !this.unsent && !this.closed && this.status !== 101 && !pending.client.closed) {
      this.parts = [];
      this.socket!.unref();
      this.pool.push(this);
    } else {
      this.destroy();
    }
    pending.resolve(response);
  }
}

const EMPTY = Buffer.alloc(0);

const HANDLERS = {
  data: (socket: BunSocket, chunk: Buffer) => socket.data.onData(chunk),
  drain: (socket: BunSocket) => socket.data.drain(),
  end: (socket: BunSocket) => {
    socket.data.onClose();
    socket.end(); // our side too: a connection the server ended is never reused
  },
  close: (socket: BunSocket, error?: Error) => socket.data.onClose(error),
  error: (socket: BunSocket, error: Error) => socket.data.onClose(error),
};

/** A request until it settles: resolved, rejected, or timed out by the client's sweep. */
class Pending {
  connection: Connection | undefined;
  done = false;
  /** Sent on a reused connection and nothing came back yet: a close may be that connection's idle end. */
  mayRetry = false;
  /** When the request was last written (performance.now()). */
  sentAt = 0;
  readonly client: Http1Client;
  readonly target: HttpTarget;
  readonly request: Uint8Array;
  /** A HEAD request: no body in the response whatever its headers say. */
  readonly head: boolean;
  readonly deadline: number;
  readonly timeoutMs: number;
  /** Bytes of the response body kept; the response ends there. */
  readonly maxBody: number;
  readonly #resolve: (response: HttpResponse) => void;
  readonly #reject: (error: Error) => void;

  constructor(
    client: Http1Client, target: HttpTarget, request: Uint8Array, head: boolean, timeoutMs: number, maxBody: number,
    resolve: (response: HttpResponse) => void, reject: (error: Error) => void,
  ) {
    this.client = client;
    this.target = target;
    this.request = request;
    this.head = head;
    this.timeoutMs = timeoutMs;
    this.maxBody = maxBody;
    this.deadline = Date.now() + timeoutMs;
    this.#resolve = resolve;
    this.#reject = reject;
  }

  resolve(response: HttpResponse): void {
    if (this.done) return;
    this.done = true;
    this.client.settled(this);
    this.#resolve(response);
  }

  reject(error: Error): void {
    if (this.done) return;
    this.done = true;
    this.client.settled(this);
    this.#reject(error);
  }

  /** Past its deadline: drops its connection (a late response must not be read as the next one's). */
  timeout(): void {
    const error = new HttpTimeoutError(this.timeoutMs);
    if (this.connection?.pending === this) this.connection.fail(error);
    else this.reject(error);
  }
}

/** How often requests are checked against their deadline: timeouts fire up to this late. */
const SWEEP_MS = 50;

/**
 * Keep-alive connections per origin, one request at a time on each (no pipelining). Idle ones are
 * reused newest first and do not keep the process alive; a server closing one is noticed and it
 * leaves the pool. Timeouts are one shared sweep over the requests in flight, not a timer each.
 */
export class Http1Client {
  readonly #pools = new Map<string, Connection[]>();
  readonly #connect: BunConnect;
  readonly #inFlight = new Set<Pending>();
  #sweep: ReturnType<typeof setInterval> | undefined;
  /** After {@link close}: requests still work, but no connection is kept. */
  closed = false;

  /** Undefined where `Bun.connect` is missing (Node, Deno): use `fetch` there. */
  static create(): Http1Client | undefined {
    return bunConnect ? new Http1Client(bunConnect) : undefined;
  }

  private constructor(connect: BunConnect) {
    this.#connect = connect;
  }

  /**
   * Sends `head` (the request line and headers, ending with the empty line, latin1) and `body` to
   * `target`, and resolves with the whole response, or rejects on a connection error or after
   * `timeoutMs` ({@link HttpTimeoutError}). `isHead`: a HEAD request, whose response has no body.
   * A body longer than `maxBody` is cut there, and the rest is not read (the connection is closed).
   */
  request(
    target: HttpTarget, head: string, body: Uint8Array | undefined, isHead: boolean, timeoutMs: number,
    maxBody = Number.POSITIVE_INFINITY,
  ): Promise<HttpResponse> {
    const request = Buffer.allocUnsafe(head.length + (body?.length ?? 0));
    request.write(head, 0, "latin1");
    if (body) request.set(body, head.length);
    return new Promise<HttpResponse>((resolve, reject) => {
      const pending = new Pending(this, target, request, isHead, timeoutMs, maxBody, resolve, reject);
      this.#inFlight.add(pending);
      if (!this.#sweep) {
        this.#sweep = setInterval(() => this.#expire(), SWEEP_MS);
        (this.#sweep as { unref?: () => void }).unref?.();
      }
      this.send(pending, this.#pool(target.origin).pop());
    });
  }

  /** Sends on `reused`, an idle connection, or else on a new one. */
  send(pending: Pending, reused: Connection | undefined): void {
    pending.connection = reused;
    pending.mayRetry = reused !== undefined;
    if (reused) {
      reused.socket!.ref();
      reused.send(pending.request, pending);
      return;
    }
    this.#open(pending.target).then((opened) => {
      if (pending.done) return opened.destroy(); // timed out while connecting
      pending.connection = opened;
      opened.send(pending.request, pending);
    }, (error: Error & { code?: string }) => {
      pending.reject(new Error(`cannot connect to ${pending.target.host}: ${error.code ?? error.message}`, { cause: error }));
    });
  }

  /** Called by a request as it settles. */
  settled(pending: Pending): void {
    this.#inFlight.delete(pending);
  }

  /** Closes the idle connections; those in use close when their response ends. */
  close(): void {
    this.closed = true;
    for (const pool of this.#pools.values()) for (const connection of [...pool]) connection.destroy();
    this.#pools.clear();
  }

  #expire(): void {
    if (this.#inFlight.size === 0) {
      clearInterval(this.#sweep);
      this.#sweep = undefined;
      return;
    }
    const now = Date.now();
    for (const pending of this.#inFlight) if (pending.deadline <= now) pending.timeout();
  }

  #pool(origin: string): Connection[] {
    let pool = this.#pools.get(origin);
    if (!pool) {
      pool = [];
      this.#pools.set(origin, pool);
    }
    return pool;
  }

  async #open(target: HttpTarget): Promise<Connection> {
    const connection = new Connection(this.#pool(target.origin));
    connection.socket = await this.#connect({ hostname: target.hostname, port: target.port, data: connection, socket: HANDLERS });
    return connection;
  }
}

/** The smaller of two `indexOf` results, -1 when both are. */
function firstOf(a: number, b: number): number {
  return a < 0 ? b : b < 0 ? a : Math.min(a, b);
}
