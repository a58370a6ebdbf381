import { afterAll, describe, expect, test } from "bun:test";
import { createServer, type Server } from "node:net";
import { headerLines, Http1Client, httpTarget, HttpTimeoutError } from "../../src/broker/engine/http1.ts";

// The broker's HTTP/1.1 delivery client against a raw TCP server that answers exactly what each
// test writes, so framing the usual servers never produce (chunked bodies split anywhere, bodies
// ended by a close, 100 Continue, a keep-alive connection closed under the client) is covered.

const client = Http1Client.create()!;
const servers: Server[] = [];
afterAll(() => {
  client.close();
  for (const server of servers) server.close();
});

/** A TCP server; `answer` gets each request's raw text (head and body) and the socket to reply on. */
async function rawServer(answer: (request: string, socket: import("node:net").Socket) => void): Promise<string> {
  const server = createServer((socket) => {
    let text = "";
    socket.on("data", (chunk) => {
      text += chunk.toString("latin1");
      const end = text.indexOf("\r\n\r\n");
      if (end < 0) return;
      const length = Number(/\r\ncontent-length: (\d+)/i.exec(text.slice(0, end))?.[1] ?? 0);
      if (text.length < end + 4 + length) return;
      const request = text.slice(0, end + 4 + length);
      text = text.slice(end + 4 + length);
      answer(request, socket);
    });
    socket.on("error", () => {});
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address() as { port: number };
  return `http://127.0.0.1:${address.port}`;
}

const send = (url: string, body = "hi", method = "POST", timeoutMs = 2000) => {
  const target = httpTarget(url)!;
  const head = `${method} ${target.path} HTTP/1.1\r\nHost: ${target.host}\r\nContent-Length: ${body.length}\r\n\r\n`;
  return client.request(target, head, new TextEncoder().encode(body), method === "HEAD", timeoutMs);
};
const text = (body: Uint8Array) => new TextDecoder().decode(body);

describe("Http1Client", () => {
  test("reads a Content-Length response and reuses the connection", async () => {
    const connections = new Set<unknown>();
    const url = await rawServer((_, socket) => {
      connections.add(socket);
      socket.write("HTTP/1.1 201 Created\r\nX-One: 1\r\nContent-Length: 5\r\n\r\nhello");
    });
    for (let i = 0; i < 3; i++) {
      const response = await send(`${url}/a?b=c`);
      expect(response.status).toBe(201);
      expect(text(response.body)).toBe("hello");
      expect(headerLines(response.head)).toEqual([["X-One", "1"], ["Content-Length", "5"]]);
    }
    expect(connections.size).toBe(1);
  });

  test("sends the request line, headers and body as given", async () => {
    let seen = "";
    const url = await rawServer((request, socket) => {
      seen = request;
      socket.write("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    });
    await send(`${url}/path%20x?q=1`, "the body");
    expect(seen).toStartWith("POST /path%20x?q=1 HTTP/1.1\r\nHost: 127.0.0.1:");
    expect(seen).toEndWith("\r\nContent-Length: 8\r\n\r\nthe body");
  });

  test("decodes a chunked body split across packets, and skips 100 Continue", async () => {
    const url = await rawServer((_, socket) => {
      const parts = ["HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 500 Oops\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel", "lo\r\n6;ext=1\r\n world\r\n0\r\n", "X-Trailer: t\r\n\r\n"];
      parts.forEach((part, i) => setTimeout(() => socket.write(part), i * 20));
    });
    const response = await send(url);
    expect(response.status).toBe(500);
    expect(text(response.body)).toBe("hello world");
  });

  test("reads a Content-Length body arriving in many packets, the head split too", async () => {
    const body = "0123456789".repeat(200_000);
    const url = await rawServer((_, socket) => {
      const response = `HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
      socket.write(response.slice(0, 20));
      setTimeout(() => {
        for (let at = 20; at < response.length; at += 64 * 1024) socket.write(response.slice(at, at + 64 * 1024));
      }, 10);
    });
    const response = await send(url);
    expect(response.body.length).toBe(body.length);
    expect(text(response.body)).toBe(body);
  });

  test("decodes a chunked body split at every byte, then reuses the connection", async () => {
    const connections = new Set<unknown>();
    const response = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\na;x=y\r\n0123456789\r\n0\r\nX-T: 1\r\n\r\n";
    const url = await rawServer(async (_, socket) => {
      connections.add(socket);
      socket.setNoDelay(true);
      for (const byte of response) {
        socket.write(byte);
        await new Promise((resolve) => setTimeout(resolve, 1));
      }
    });
    for (let i = 0; i < 2; i++) expect(text((await send(url)).body)).toBe("abc0123456789");
    expect(connections.size).toBe(1);
  });

  test("reads a chunk of several megabytes arriving in many packets", async () => {
    const body = "0123456789abcdef".repeat(640 * 1024); // 10 MB, one chunk
    const url = await rawServer((_, socket) => {
      const response = `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n${body.length.toString(16)}\r\n${body}\r\n1\r\n!\r\n0\r\n\r\n`;
      for (let at = 0; at < response.length; at += 64 * 1024) socket.write(response.slice(at, at + 64 * 1024));
    });
    const response = await send(url);
    expect(response.body.length).toBe(body.length + 1);
    expect(text(response.body)).toBe(`${body}!`);
  });

  test("a body longer than maxBody is cut there, and its connection is not reused", async () => {
    const connections = new Set<unknown>();
    const big = "x".repeat(1024 * 1024);
    const answers = [
      `HTTP/1.1 200 OK\r\nContent-Length: ${big.length}\r\n\r\n${big}`,
      `HTTP/1.1 500 Oops\r\nTransfer-Encoding: chunked\r\n\r\n${(big.length).toString(16)}\r\n${big}\r\n0\r\n\r\n`,
      `HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n${big}`,
    ];
    let n = 0;
    const url = await rawServer((_, socket) => {
      connections.add(socket);
      socket.write(answers[n++]!);
    });
    const target = httpTarget(url)!;
    const head = `GET / HTTP/1.1\r\nHost: ${target.host}\r\n\r\n`;
    for (const status of [200, 500, 200]) {
      const response = await client.request(target, head, undefined, false, 2000, 1000);
      expect(response.status).toBe(status);
      expect(text(response.body)).toBe("x".repeat(1000));
    }
    expect(connections.size).toBe(3);
    // A body of exactly maxBody bytes is whole, and the connection stays.
    const exact = await rawServer((_, socket) => socket.write("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nfour"));
    const exactTarget = httpTarget(exact)!;
    expect(text((await client.request(exactTarget, head, undefined, false, 2000, 4)).body)).toBe("four");
  });

  test("a response head, chunk line or trailers over 64 KB, or chunk data not ended by CRLF, fails the request", async () => {
    const endless = "a".repeat(70 * 1024);
    const answers = [
      `HTTP/1.1 200 OK\r\nX-Long: ${endless}`,
      `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n${endless}`,
      `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-T: ${endless}`,
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n",
    ];
    let n = 0;
    const url = await rawServer((_, socket) => socket.write(answers[n++]!));
    for (const expected of [/response head over 64 KB/, /chunk size line over 64 KB/, /trailers over 64 KB/, /malformed chunked response/]) {
      const error = await send(url).catch((e: unknown) => e);
      expect(String(error)).toMatch(expected);
    }
  });

  test("reads a body ended by the server closing, then opens a new connection", async () => {
    let count = 0;
    const url = await rawServer((_, socket) => {
      socket.end(`HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nreply ${++count}`);
    });
    expect(text((await send(url)).body)).toBe("reply 1");
    expect(text((await send(url)).body)).toBe("reply 2");
  });

  test("a HEAD response has no body whatever its Content-Length", async () => {
    const url = await rawServer((_, socket) => socket.write("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n"));
    const response = await send(url, "", "HEAD");
    expect(response.status).toBe(200);
    expect(response.body.length).toBe(0);
  });

  test("a keep-alive connection the server closed meanwhile is replaced transparently", async () => {
    let requests = 0;
    const url = await rawServer((_, socket) => {
      requests++;
      socket.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
      // Closes the idle connection right after answering, as a server's idle timeout would.
      setTimeout(() => socket.destroy(), 5);
    });
    expect((await send(url)).status).toBe(200);
    await Bun.sleep(30);
    expect((await send(url)).status).toBe(200);
    expect(requests).toBe(2);
  });

  /** A server answering 200, except the second request on a connection, which `drop` ends instead. */
  async function droppingSecond(drop: (socket: import("node:net").Socket) => void) {
    const served = new WeakMap<object, number>();
    const counted = { url: "", requests: 0 };
    counted.url = await rawServer((_, socket) => {
      counted.requests++;
      const n = (served.get(socket) ?? 0) + 1;
      served.set(socket, n);
      if (n === 2) drop(socket);
      else socket.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    });
    return counted;
  }

  test("a reused connection closed before any answer: the request is sent again on a new one", async () => {
    const server = await droppingSecond((socket) => socket.destroy()); // the race a keep-alive timeout makes
    expect((await send(server.url)).status).toBe(200);
    expect((await send(server.url)).status).toBe(200);
    expect(server.requests).toBe(3);
  });

  test("a reused connection that dies while the server works on the request: not sent twice, the attempt fails", async () => {
    // Read, worked on, then the process died.
    const server = await droppingSecond((socket) => setTimeout(() => socket.destroy(), 300));
    expect((await send(server.url)).status).toBe(200);
    await expect(send(server.url)).rejects.toThrow();
    expect(server.requests).toBe(2);
  });

  test("a status line that is not HTTP/1.x, a space and three digits fails the request", async () => {
    for (const line of ["HTTP/1.1 2e2 OK", "HTTP/1.1X200 OK", "HTTP/1.1 2000 OK", "HTTP/1.1 200OK", "HTTP/1.1 099 Low"]) {
      const url = await rawServer((_, socket) => socket.end(`${line}\r\nContent-Length: 2\r\n\r\nok`));
      await expect(send(url)).rejects.toThrow(/malformed response/);
    }
    const bare = await rawServer((_, socket) => socket.write("HTTP/1.1 204\r\n\r\n"));
    expect((await send(bare)).status).toBe(204);
  });

  test("a chunked body with bare LF line ends, trailers too, is read", async () => {
    for (const tail of ["0\n\n", "0\nX-Trailer: 1\n\n"]) {
      const url = await rawServer((_, socket) => socket.write(`HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\n2\nok\n3\n!!!\n${tail}`));
      const response = await send(url, "hi", "POST", 1000);
      expect(text(response.body)).toBe("ok!!!");
    }
  });

  test("a head with bare LF line ends is read (as fetch reads it)", async () => {
    const url = await rawServer((_, socket) => socket.write("HTTP/1.1 200 OK\nContent-Length: 2\nConnection: keep-alive\n\nok"));
    const response = await send(url);
    expect(response.status).toBe(200);
    expect(text(response.body)).toBe("ok");
    expect(headerLines(response.head)).toEqual([["Content-Length", "2"], ["Connection", "keep-alive"]]);
    // A CRLFCRLF in the body of a bare-LF response is body, not the head's end.
    const tricky = await rawServer((_, socket) => socket.write("HTTP/1.1 200 OK\nContent-Length: 6\n\na\r\n\r\nb"));
    expect(text((await send(tricky)).body)).toBe("a\r\n\r\nb");
  });

  test("a large body is written whole (partial writes resume on drain)", async () => {
    let received = 0;
    const url = await rawServer((request, socket) => {
      received = request.length - request.indexOf("\r\n\r\n") - 4;
      socket.write("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    });
    const big = "x".repeat(8 * 1024 * 1024);
    expect((await send(url, big)).status).toBe(200);
    expect(received).toBe(big.length);
  });

  test("times out, and fails a refused connection", async () => {
    const url = await rawServer(() => {}); // never answers
    const error = await send(url, "x", "POST", 100).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HttpTimeoutError);
    const refused = await send("http://127.0.0.1:1/").catch((e: unknown) => e);
    expect(String(refused)).toMatch(/ECONNREFUSED|connect/i);
  });

  test("only plain http:// URLs are targets", () => {
    expect(httpTarget("https://example.com/")).toBeUndefined();
    expect(httpTarget("http://user:pw@example.com/")).toBeUndefined();
    expect(httpTarget("http://[::1]:8080/x")).toMatchObject({ hostname: "::1", port: 8080, host: "[::1]:8080", path: "/x" });
    expect(httpTarget("http://example.com")).toMatchObject({ hostname: "example.com", port: 80, path: "/" });
  });
});
