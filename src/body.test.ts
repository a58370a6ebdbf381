import { describe, expect, test } from "bun:test";
import { BodyTooLargeError, readBody } from "./body.ts";

const bytes = (n: number) => new Uint8Array(n).fill(65);
function streamed(chunks: Uint8Array[]): Request {
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(chunk);
      controller.close();
    },
  });
  return new Request("http://x/", { method: "POST", body, duplex: "half" } as RequestInit);
}

describe("readBody", () => {
  test("with a Content-Length within the limit: the exact bytes", async () => {
    const req = new Request("http://x/", { method: "POST", body: bytes(100), headers: { "Content-Length": "100" } });
    expect(await readBody(req, 100)).toEqual(bytes(100));
  });

  test("a body over the limit is refused, read to its end and dropped, so the connection stays usable", async () => {
    let pulled = 0;
    const chunks = [bytes(60), bytes(60), bytes(60)];
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        const chunk = chunks.shift();
        if (chunk) {
          pulled++;
          controller.enqueue(chunk);
        } else controller.close();
      },
    });
    const declared = new Request("http://x/", { method: "POST", body, duplex: "half", headers: { "Content-Length": "180" } } as RequestInit);
    await expect(readBody(declared, 100)).rejects.toBeInstanceOf(BodyTooLargeError);
    expect(pulled).toBe(3);
  });

  test("a body that never ends is dropped within the time bound", async () => {
    const body = new ReadableStream<Uint8Array>({ start: (controller) => controller.enqueue(bytes(200)) }); // then nothing, never closed
    const started = Date.now();
    await expect(readBody(new Request("http://x/", { method: "POST", body, duplex: "half" } as RequestInit), 100)).rejects.toBeInstanceOf(BodyTooLargeError);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  test("a streamed body without a length is joined, and cut off past the limit", async () => {
    expect(await readBody(streamed([bytes(40), bytes(60)]), 100)).toEqual(bytes(100));
    await expect(readBody(streamed([bytes(60), bytes(60)]), 100)).rejects.toThrow(/exceeds the limit of 100 bytes/);
  });

  test("no body: empty bytes", async () => {
    expect(await readBody(new Request("http://x/", { method: "POST" }), 10)).toEqual(new Uint8Array(0));
  });
});
