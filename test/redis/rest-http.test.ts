// The REST endpoint at the HTTP level (raw fetch), against a real redis-server: exact statuses,
// bodies and encodings, where the client would hide them.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type Stack, startStack } from "./stack.ts";

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(() => stack?.stop());

const b64 = { "upstash-encoding": "base64" };
const enc = (text: string) => Buffer.from(text).toString("base64");

describe("replies and encodings (real redis-server)", () => {
  test("one command: {result}, with the key present for null", async () => {
    expect(await stack.post("/", ["set", "h:a", "v"])).toEqual({ status: 200, type: "application/json", json: { result: "OK" } });
    expect((await stack.post("/", ["get", "h:a"])).json).toEqual({ result: "v" });
    expect((await stack.post("/", ["get", "h:missing"])).json).toEqual({ result: null });
    expect((await stack.post("/", ["incr", "h:n"])).json).toEqual({ result: 1 });
  });

  test("arguments: numbers as text, booleans as words, null as empty", async () => {
    await stack.post("/", ["rpush", "h:args", 12.5, -3, true, false, null, "s"]);
    expect((await stack.post("/", ["lrange", "h:args", 0, -1])).json).toEqual({ result: ["12.5", "-3", "true", "false", "", "s"] });
  });

  test("base64 mode: every string at every depth is base64; numbers, null and a top-level OK stay", async () => {
    expect((await stack.post("/", ["set", "h:b", "héllo"], b64)).json).toEqual({ result: "OK" });
    expect((await stack.post("/", ["get", "h:b"], b64)).json).toEqual({ result: enc("héllo") });
    expect((await stack.post("/", ["ping"], b64)).json).toEqual({ result: enc("PONG") });
    const nested = await stack.post("/", ["eval", "return {1, 'a', {2, 'OK', {'deep'}}, redis.status_reply('OK')}", 0], b64);
    expect(nested.json).toEqual({ result: [1, enc("a"), [2, enc("OK"), [enc("deep")]], enc("OK")] });
    expect((await stack.post("/", ["eval", "return {1, false, 3}", 0], b64)).json).toEqual({ result: [1, null, 3] });
  });

  test("binary-safe values: the exact bytes, base64 encoded", async () => {
    const bytes = Buffer.from([0x00, 0xff, 0x80, 0x0a, 0x0d, 0xc3, 0x28, 0x7f]);
    const lua = `redis.call('SET', KEYS[1], string.char(${[...bytes].join(",")})) return redis.call('GET', KEYS[1])`;
    expect((await stack.post("/", ["eval", lua, 1, "h:bin"], b64)).json).toEqual({ result: bytes.toString("base64") });
    expect((await stack.post("/", ["get", "h:bin"], b64)).json).toEqual({ result: bytes.toString("base64") });
    expect((await stack.post("/", ["strlen", "h:bin"], b64)).json).toEqual({ result: bytes.length });
    expect((await stack.post("/pipeline", [["get", "h:bin"]], b64)).json).toEqual([{ result: bytes.toString("base64") }]);
  });

  test("pipeline: one entry per command, in order, errors in place, all commands run", async () => {
    const res = await stack.post("/pipeline", [["set", "h:p", "x"], ["incr", "h:p"], ["append", "h:p", "y"], ["get", "h:p"], ["blpop", "h:l", 0], ["get", "h:p"]], b64);
    expect(res.status).toBe(200);
    expect(res.json).toEqual([
      { result: "OK" },
      { error: "ERR value is not an integer or out of range" },
      { result: 2 },
      { result: enc("xy") },
      { error: expect.stringMatching(/^ERR .*'blpop' is not supported/) },
      { result: enc("xy") },
    ]);
  });

  test("multi-exec: results in a 200 array, runtime errors in place", async () => {
    const res = await stack.post("/multi-exec", [["set", "h:m", "x"], ["incr", "h:m"], ["get", "h:m"]]);
    expect(res).toEqual({
      status: 200,
      type: "application/json",
      json: [{ result: "OK" }, { error: "ERR value is not an integer or out of range" }, { result: "x" }],
    });
  });

  test("multi-exec discarded at queue time (EXECABORT) is a 400 and applies nothing", async () => {
    for (const bad of [["set", "h:abort"], ["nosuchcommand", "x"]]) {
      const res = await stack.post("/multi-exec", [["set", "h:abort:1", "applied?"], bad]);
      expect(res.status).toBe(400);
      expect(res.json).toEqual({ error: expect.stringMatching(/^EXECABORT Transaction discarded because of previous errors\..*ERR/) });
    }
    expect((await stack.post("/", ["exists", "h:abort:1"])).json).toEqual({ result: 0 });
    const refused = await stack.post("/multi-exec", [["set", "h:abort:1", "x"], ["watch", "h:abort:1"]]);
    expect(refused.status).toBe(400);
    expect(refused.json).toEqual({ error: expect.stringMatching(/^EXECABORT .*'watch' is not supported/) });
    expect((await stack.post("/", ["exists", "h:abort:1"])).json).toEqual({ result: 0 });
  });

  test("concurrent transactions never interleave, even with pipelines racing them", async () => {
    const counter = "h:tx:counter";
    const tx = [["incr", counter], ["get", counter], ["incr", counter], ["get", counter]];
    const requests = [
      ...Array.from({ length: 40 }, () => stack.post("/multi-exec", tx)),
      ...Array.from({ length: 40 }, () => stack.post("/pipeline", [["incr", counter], ["incr", counter]])),
    ];
    const results = await Promise.all(requests);
    for (const res of results.slice(0, 40)) {
      expect(res.status).toBe(200);
      const [a, b, c, d] = (res.json as { result: number | string }[]).map((entry) => Number(entry.result));
      expect([b, c, d]).toEqual([a!, a! + 1, a! + 1]);
    }
    expect((await stack.post("/", ["get", counter])).json).toEqual({ result: String(40 * 2 + 40 * 2) });
  });

  test("Redis errors on / are 400 with the message verbatim", async () => {
    await stack.post("/", ["set", "h:wrong", "s"]);
    expect(await stack.post("/", ["lpush", "h:wrong", "x"])).toEqual({
      status: 400,
      type: "application/json",
      json: { error: "WRONGTYPE Operation against a key holding the wrong kind of value" },
    });
    expect((await stack.post("/", ["evalsha", "0123456789012345678901234567890123456789", 0])).json).toEqual({
      error: "NOSCRIPT No matching script. Please use EVAL.",
    });
    expect((await stack.post("/", ["nosuchcommand"])).json).toEqual({ error: expect.stringMatching(/^ERR unknown command 'nosuchcommand'/) });
  });
});

describe("integers (real redis-server)", () => {
  const raw = async (path: string, body: unknown, headers: Record<string, string> = {}) =>
    (await fetch(stack.url + path, { method: "POST", headers: { authorization: `Bearer ${stack.token}`, ...headers }, body: JSON.stringify(body) })).text();

  test("are exact JSON numbers at any size, as Redis has them (they were rounded past 2^53)", async () => {
    for (const value of ["9007199254740991", "9007199254740993", "9223372036854775806", "-9223372036854775807", "42", "-1", "0"]) {
      await stack.post("/", ["set", "i:n", value]);
      expect(await raw("/", ["incrby", "i:n", "0"]), value).toBe(`{"result":${value}}`);
    }
    await stack.post("/", ["set", "i:n", "9223372036854775806"]);
    expect(await raw("/pipeline", [["incrby", "i:n", "0"], ["get", "i:n"]], { "upstash-encoding": "base64" })).toBe(
      `[{"result":9223372036854775806},{"result":"${Buffer.from("9223372036854775806").toString("base64")}"}]`,
    );
    // Inside arrays too (BITFIELD answers an array of 64-bit integers).
    await stack.post("/", ["bitfield", "i:bits", "set", "i64", "0", "-9223372036854775807"]);
    expect(await raw("/multi-exec", [["incrby", "i:n", "0"], ["bitfield", "i:bits", "get", "i64", "0", "get", "u8", "0"], ["eval", "return {1, {2, 3}}", "0"]])).toBe(
      '[{"result":9223372036854775806},{"result":[-9223372036854775807,128]},{"result":[1,[2,3]]}]',
    );
  });

  test("strings made of digits stay strings, and simple strings stay text", async () => {
    await stack.post("/", ["set", "i:digits", "9223372036854775806"]);
    expect(await raw("/", ["get", "i:digits"])).toBe('{"result":"9223372036854775806"}');
    expect(await raw("/", ["type", "i:digits"])).toBe('{"result":"string"}');
    expect(await raw("/", ["ping"])).toBe('{"result":"PONG"}');
  });
});

describe("refused commands (real redis-server)", () => {
  const refused = [
    ["multi"], ["exec"], ["watch", "k"], ["unwatch"], ["select", 1], ["auth", "x"], ["hello", 3], ["reset"], ["quit"],
    ["client", "list"], ["client", "reply", "off"], ["subscribe", "c"], ["psubscribe", "*"], ["monitor"],
    ["blpop", "l", 0], ["brpop", "l", 0], ["blmove", "a", "b", "left", "left", 0], ["bzpopmin", "z", 0], ["wait", 1, 0],
    ["xread", "BLOCK", 0, "STREAMS", "s", "$"], ["sync"],
  ];
  for (const command of refused) {
    test(`${command.join(" ")} → 400 ERR ... not supported`, async () => {
      const res = await stack.post("/", command);
      expect(res.status).toBe(400);
      expect(res.json).toEqual({ error: expect.stringMatching(/^ERR .*not supported/) });
    });
  }

  test("SELECT as Redis reads it: 00 is 0; wrong arity or a non-number is Redis's own error, not a refusal", async () => {
    expect((await stack.post("/", ["select", "00"])).json).toEqual({ result: "OK" });
    expect((await stack.post("/", ["select", "0", "x"])).json).toEqual({ error: "ERR wrong number of arguments for 'select' command" });
    expect((await stack.post("/", ["select"])).json).toEqual({ error: "ERR wrong number of arguments for 'select' command" });
    expect((await stack.post("/", ["select", "one"])).json).toEqual({ error: "ERR value is not an integer or out of range" });
  });

  test("XREAD is refused only for a BLOCK option: a stream key or group named block is read", async () => {
    expect((await stack.post("/", ["xadd", "block", "*", "f", "v"])).status).toBe(200);
    const read = await stack.post("/", ["xread", "COUNT", 1, "STREAMS", "block", "0"]);
    expect(read.status).toBe(200);
    expect(Array.isArray((read.json as { result: unknown }).result)).toBe(true);
    expect((await stack.post("/", ["xread", "COUNT", 1, "block", 0, "STREAMS", "block", "0"])).json).toEqual({ error: expect.stringMatching(/^ERR blocking .*not supported/) });
  });

  test("a Host header that makes no URL is a JSON 400, not a 500", async () => {
    const port = Number(new URL(stack.url).port);
    const answer = await new Promise<string>((resolve) => {
      let out = "";
      Bun.connect({
        hostname: "127.0.0.1",
        port,
        socket: { data: (_s, d) => void (out += new TextDecoder().decode(d)), close: () => resolve(out), error: () => resolve(out) },
      }).then((socket) => socket.write(`POST /x HTTP/1.1\r\nHost: a/b\r\nAuthorization: Bearer ${stack.token}\r\nContent-Length: 2\r\nConnection: close\r\n\r\n[]`));
    });
    expect(answer.split("\r\n")[0], answer).toBe("HTTP/1.1 400 Bad Request");
    expect(JSON.parse(answer.slice(answer.indexOf("\r\n\r\n") + 4))).toEqual({ error: "invalid request: its Host header does not make a URL" });
  });

  test("the connection is unharmed afterwards", async () => {
    expect((await stack.post("/", ["ping"])).json).toEqual({ result: "PONG" });
    expect((await stack.post("/", ["xread", "COUNT", 1, "STREAMS", "h:none", "0"])).json).toEqual({ result: null });
    expect((await stack.post("/", ["select", "0"])).json).toEqual({ result: "OK" });
  });
});

describe("malformed requests (real redis-server)", () => {
  const cases: [string, string, unknown, number, RegExp][] = [
    ["not JSON", "/", "{nope", 400, /not valid JSON/],
    ["an object", "/", { command: "get" }, 400, /must be a JSON array/],
    ["an empty command", "/", [], 400, /empty command/],
    ["an object argument", "/", ["set", "k", { a: 1 }], 400, /argument 2 is of type object/],
    ["an array argument", "/", ["set", "k", ["v"]], 400, /argument 2 is an array/],
    ["a pipeline of non-arrays", "/pipeline", ["get", "k"], 400, /must be a JSON array/],
    ["an empty pipeline", "/pipeline", [], 400, /empty batch/],
    ["a pipeline with one bad entry", "/pipeline", [["set", "h:never", "1"], ["set", "k", { a: 1 }]], 400, /command 1/],
    ["a multi-exec of non-arrays", "/multi-exec", { a: 1 }, 400, /must be a JSON array of commands/],
    ["an empty multi-exec", "/multi-exec", [], 400, /empty batch/],
  ];
  for (const [what, path, body, status, message] of cases) {
    test(`${what} on ${path} → ${status}`, async () => {
      const res = await stack.post(path, body);
      expect(res.status).toBe(status);
      expect(res.type).toBe("application/json");
      expect(res.json).toEqual({ error: expect.stringMatching(message) });
    });
  }

  test("nothing of a rejected batch reached Redis", async () => {
    expect((await stack.post("/", ["exists", "h:never"])).json).toEqual({ result: 0 });
  });

  test("unknown path → 404 JSON, wrong method → 405 JSON", async () => {
    const unknown = await stack.post("/get/key", ["get", "k"]);
    expect(unknown.status).toBe(404);
    expect(unknown.json).toEqual({ error: expect.stringMatching(/unknown path/) });
    for (const path of ["/", "/pipeline", "/multi-exec"]) {
      const res = await fetch(stack.url + path, { method: "GET", headers: { authorization: `Bearer ${stack.token}` } });
      expect(res.status).toBe(405);
      expect(res.headers.get("content-type")).toBe("application/json");
      expect(await res.json()).toEqual({ error: expect.stringMatching(/not allowed/) });
    }
  });

  test("missing or wrong token → 401 Unauthorized, checked before the body", async () => {
    const missing = await fetch(stack.url, { method: "POST", body: JSON.stringify(["ping"]) });
    expect(missing.status).toBe(401);
    expect(await missing.json()).toEqual({ error: "Unauthorized" });
    for (const authorization of ["Bearer wrong", `Basic ${stack.token}`, `Bearer ${stack.token}x`, "Bearer"]) {
      const res = await stack.post("/", "{not json", { authorization });
      expect(res).toEqual({ status: 401, type: "application/json", json: { error: "Unauthorized" } });
    }
    expect((await stack.post("/pipeline", [["set", "h:unauth", 1]], { authorization: "Bearer wrong" })).status).toBe(401);
    expect((await stack.post("/", ["exists", "h:unauth"])).json).toEqual({ result: 0 });
  });
});
