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

  test("a declared Content-Length over the limit is refused before reading", async () => {
    const req = new Request("http://x/", { method: "POST", body: bytes(10), headers: { "Content-Length": "101" } });
    await expect(readBody(req, 100)).rejects.toBeInstanceOf(BodyTooLargeError);
    expect(req.bodyUsed).toBe(false);
  });

  test("a streamed body without a length is joined, and cut off past the limit", async () => {
    expect(await readBody(streamed([bytes(40), bytes(60)]), 100)).toEqual(bytes(100));
    await expect(readBody(streamed([bytes(60), bytes(60)]), 100)).rejects.toThrow(/exceeds the limit of 100 bytes/);
  });

  test("no body: empty bytes", async () => {
    expect(await readBody(new Request("http://x/", { method: "POST" }), 10)).toEqual(new Uint8Array(0));
  });
});
