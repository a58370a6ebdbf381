/**
 * A request body that streams `total` bytes in `chunk`-sized pieces (sent chunked: no length is
 * declared) and then stalls until `release()`: a server that waits for the whole body before
 * answering never answers while it is held.
 */
export function stalledBody(total: number, chunk: number): { body: ReadableStream<Uint8Array>; release: () => void } {
  let sent = 0;
  let release: () => void = () => {};
  const held = new Promise<void>((resolve) => (release = resolve));
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (sent >= total) return held.then(() => controller.close());
      sent += chunk;
      controller.enqueue(new Uint8Array(chunk).fill(120));
    },
  });
  return { body, release };
}
