/** A request as a recording server saw it. */
export interface RecordedRequest {
  method: string;
  /** The raw request target: it keeps a destination's `//`, as a QStash broker reads it. */
  path: string;
  headers: Headers;
  body: string;
}

/** A loopback server standing in for a broker's API; {@link RecordingServer.stop} ends it. */
export interface RecordingServer {
  /** `http://127.0.0.1:<port>` */
  url: string;
  stop(): void;
}

/**
 * Starts a server on a free loopback port that hands each request, body read, to `answer`, which
 * records what its test needs and returns the response.
 */
export function recordingServer(answer: (request: RecordedRequest) => Response): RecordingServer {
  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(req) {
      const { origin } = new URL(req.url);
      return answer({ method: req.method, path: req.url.slice(origin.length), headers: req.headers, body: await req.text() });
    },
  });
  return { url: `http://127.0.0.1:${server.port}`, stop: () => server.stop(true) };
}
