/** The body was larger than allowed. */
export class BodyTooLargeError extends Error {
  constructor(readonly limit: number) {
    super(`body exceeds the limit of ${limit} bytes`);
    this.name = "BodyTooLargeError";
  }
}

/**
 * Reads a request body into bytes, at most `limit` of them: a declared `Content-Length` over the
 * limit is refused without keeping any of it, and a streamed body as soon as it passes the limit;
 * the rest is read and dropped (see {@link discardBody}).
 */
export async function readBody(request: Request, limit: number): Promise<Uint8Array> {
  const length = request.headers.get("content-length");
  const declared = length === null ? Number.NaN : Number(length);
  if (declared > limit) {
    await discardBody(request);
    throw new BodyTooLargeError(limit);
  }
  // A declared length within the limit: one native read, much cheaper than pulling the stream
  // chunk by chunk. The runtime enforces Content-Length, so the body cannot exceed it. Reading
  // `request.body` is left to the other case: some runtimes make the stream only when it is read.
  if (declared >= 0) {
    const bytes = new Uint8Array(await request.arrayBuffer());
    if (bytes.byteLength > limit) throw new BodyTooLargeError(limit);
    return bytes;
  }
  if (!request.body) return new Uint8Array(0);
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await discardRest(reader, size);
      throw new BodyTooLargeError(limit);
    }
    chunks.push(value);
  }
  if (chunks.length === 1) return chunks[0]!;
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}

/** The most bytes, and time, spent reading a refused body to its end. */
const DISCARD_BYTES = 64 * 1024 * 1024;
const DISCARD_MS = 500;

/**
 * Reads a body nobody will use to its end, keeping none of it, within 64 MiB and 500 ms. Some
 * servers (workerd) reset a connection whose request body was not read: the caller would never
 * see an early answer (a 489 it must not retry), and the next request on the connection would fail.
 */
export async function discardBody(request: Request): Promise<void> {
  if (!request.body || request.bodyUsed) return;
  await discardRest(request.body.getReader(), 0);
}

async function discardRest(reader: ReadableStreamDefaultReader<Uint8Array>, read: number): Promise<void> {
  const timer = setTimeout(() => void reader.cancel().catch(() => {}), DISCARD_MS);
  try {
    let size = read;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      size += value.byteLength;
      if (size > DISCARD_BYTES) break;
    }
    await reader.cancel();
  } catch {
    // Cancelled at the time limit, or the connection broke: nothing more to read.
  } finally {
    clearTimeout(timer);
  }
}
