/** A listening HTTP server, whatever the runtime. */
export interface RunningServer {
  /** The port actually bound (useful with port 0). */
  port: number;
  /** Stops accepting connections and closes idle ones. */
  close(): Promise<void>;
}

/** What the server knows of a request besides the request itself; the app reads it as `c.env`. */
export interface ServeEnv {
  /** The peer's IP address (an IPv4-mapped IPv6 address as plain IPv4). */
  callerIp?: string;
}

/** What to serve and where. */
export interface ServeOptions {
  fetch: (request: Request, env: ServeEnv) => Response | Promise<Response>;
  port: number;
  hostname: string;
  /**
   * Largest request body the server itself accepts, where it reads bodies before the app does
   * (`node:http`); on Bun and Deno the app's own limits answer.
   */
  maxBodyBytes: number;
}

/** Thrown when the port is taken, so the CLI can say so plainly. */
export class PortInUseError extends Error {
  constructor(host: string, port: number, options?: { cause?: unknown }) {
    super(`port ${port} on ${host} is already in use: stop the process holding it or pick another with --port`, options);
    this.name = "PortInUseError";
  }
}

const isAddrInUse = (error: unknown): boolean =>
  /EADDRINUSE|address already in use|AddrInUse/i.test(String((error as { code?: string })?.code ?? "") + String(error));

/** Serves with `Bun.serve` on Bun, `Deno.serve` on Deno, `node:http` otherwise. */
export async function serve(options: ServeOptions): Promise<RunningServer> {
  const g = globalThis as { Bun?: typeof import("bun"); Deno?: DenoLike };
  try {
    if (g.Bun) return serveBun(g.Bun, options);
    if (g.Deno) return await serveDeno(g.Deno, options);
    return await serveNode(options);
  } catch (error) {
    if (isAddrInUse(error)) throw new PortInUseError(options.hostname, options.port, { cause: error });
    // Such as an address that is no interface of this machine, or a name that does not resolve.
    throw new Error(`cannot listen on ${options.hostname}:${options.port}: ${(error as Error).message}`, { cause: error });
  }
}

function serveBun(bun: typeof import("bun"), options: ServeOptions): RunningServer {
  const server = bun.serve({
    port: options.port,
    hostname: options.hostname,
    // Bun would answer a body over this itself, with an empty 413: no JSON error for the SDK to show.
    // The app reads every body under its own limit (a declared length over it is refused unread, a
    // stream cut off as it passes it), so the server's own bound is left out of the way.
    maxRequestBodySize: Number.MAX_SAFE_INTEGER,
    idleTimeout: 0,
    fetch: (request, server) => options.fetch(request, peer(server.requestIP(request)?.address)),
  });
  return { port: server.port ?? options.port, close: async () => void (await server.stop(true)) };
}

interface DenoLike {
  serve(
    options: { port: number; hostname: string; onListen?: (addr: { port: number }) => void },
    handler: (request: Request, info: { remoteAddr?: { hostname?: string } }) => Response | Promise<Response>,
  ): { addr: { port: number }; shutdown(): Promise<void> };
}

async function serveDeno(deno: DenoLike, options: ServeOptions): Promise<RunningServer> {
  const server = deno.serve({ port: options.port, hostname: options.hostname, onListen: () => {} }, (request, info) =>
    options.fetch(request, peer(info?.remoteAddr?.hostname)),
  );
  return { port: server.addr.port, close: () => server.shutdown() };
}

async function serveNode(options: ServeOptions): Promise<RunningServer> {
  const http = await import("node:http");
  const server = http.createServer(async (req, res) => {
    const tooLarge = () => {
      // Answered without reading the rest; the connection closes after it.
      res.writeHead(413, { "content-type": "application/json", connection: "close" });
      res.end(JSON.stringify({ error: `request body is over the server's limit of ${options.maxBodyBytes} bytes` }));
    };
    try {
      if (Number(req.headers["content-length"] ?? 0) > options.maxBodyBytes) return tooLarge();
      const chunks: Uint8Array[] = [];
      let size = 0;
      for await (const chunk of req) {
        size += (chunk as Uint8Array).length;
        if (size > options.maxBodyBytes) return tooLarge();
        chunks.push(chunk as Uint8Array);
      }
      const headers = new Headers();
      for (const [name, value] of Object.entries(req.headers)) {
        if (Array.isArray(value)) for (const v of value) headers.append(name, v);
        else if (value !== undefined) headers.set(name, value);
      }
      const hasBody = req.method !== "GET" && req.method !== "HEAD";
      const request = new Request(`http://${req.headers.host ?? `${options.hostname}:${options.port}`}${req.url}`, {
        method: req.method,
        headers,
        body: hasBody ? Buffer.concat(chunks) : undefined,
      });
      const response = await options.fetch(request, peer(req.socket.remoteAddress));
      res.writeHead(response.status, Object.fromEntries(response.headers));
      res.end(Buffer.from(await response.arrayBuffer()));
    } catch (error) {
      res.writeHead(500, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: `internal error: ${String(error)}` }));
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.hostname, () => resolve());
  });
  const address = server.address();
  return {
    port: typeof address === "object" && address ? address.port : options.port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections?.();
      }),
  };
}

/** The {@link ServeEnv} of a request from `address`. */
function peer(address: string | undefined): ServeEnv {
  if (!address) return {};
  return { callerIp: address.startsWith("::ffff:") && address.includes(".") ? address.slice(7) : address };
}
