import { describe, expect, test } from "bun:test";
import { flowControl, headersOf, parsePublishHeaders } from "./publish-options.ts";

describe("parsePublishHeaders", () => {
  test("reads every option of the protocol", () => {
    const spec = parsePublishHeaders(
      new Headers({
        "content-type": "application/json",
        "upstash-forward-x-api-key": "k",
        "upstash-method": "put",
        "upstash-delay": "1m30s",
        "upstash-retries": "5",
        "upstash-retry-delay": "pow(2, retried) * 1000",
        "upstash-timeout": "2m",
        "upstash-callback": "http://127.0.0.1/cb",
        "upstash-callback-retries": "1",
        "upstash-callback-forward-x-cb": "1",
        "upstash-failure-callback": "http://127.0.0.1/fail",
        "upstash-deduplication-id": "d1",
        "upstash-flow-control-key": "k1",
        "upstash-flow-control-value": "parallelism=5, rate=10, period=1m",
        "upstash-label": "a, b",
        "upstash-redact-fields": "body,header[X-Api-Key]",
        "upstash-telemetry-sdk": "ignored",
      }),
    );
    expect(spec.template).toEqual({
      method: "PUT",
      header: { "Content-Type": ["application/json"], "X-Api-Key": ["k"] },
      maxRetries: 5,
      retryDelayExpression: "pow(2, retried) * 1000",
      timeout: 120,
      callback: { url: "http://127.0.0.1/cb", retries: 1, header: { "X-Cb": ["1"] } },
      failureCallback: { url: "http://127.0.0.1/fail" },
      flowControlKey: "k1",
      parallelism: 5,
      rate: 10,
      period: 60,
      labels: ["a", "b"],
      redact: { body: true, headers: ["X-Api-Key"] },
    });
    expect(spec.delay).toBe(90);
    expect(spec.deduplicationId).toBe("d1");
  });

  test("defaults: POST, 3 retries, nothing else", () => {
    const spec = parsePublishHeaders(new Headers());
    expect(spec.template).toEqual({ method: "POST", header: {}, maxRetries: 3 });
    expect(spec.contentBasedDeduplication).toBe(false);
  });

  const bad: [Record<string, string>, RegExp][] = [
    [{ "upstash-delay": "10x" }, /Upstash-Delay/],
    [{ "upstash-delay": "-1s" }, /Upstash-Delay/],
    [{ "upstash-retries": "-1" }, /Upstash-Retries/],
    [{ "upstash-retries": "101" }, /Upstash-Retries/],
    [{ "upstash-timeout": "0s" }, /Upstash-Timeout/],
    [{ "upstash-retry-delay": "eval(1)" }, /Upstash-Retry-Delay/],
    [{ "upstash-method": "FETCH" }, /Upstash-Method/],
    [{ "upstash-not-before": "tomorrow" }, /Upstash-Not-Before/],
    [{ "upstash-callback": "not a url" }, /Upstash-Callback/],
    [{ "upstash-content-based-deduplication": "yes" }, /Content-Based/],
    [{ "upstash-redact-fields": "everything" }, /Redact/],
  ];
  for (const [headers, message] of bad) {
    test(`rejects ${JSON.stringify(headers)}`, () => {
      expect(() => parsePublishHeaders(new Headers(headers))).toThrow(message);
    });
  }
});

describe("headersOf (a /v2/batch item's headers)", () => {
  const entries = (source: { forEach(callback: (value: string, name: string) => void): void }) => {
    const out: [string, string][] = [];
    source.forEach((value, name) => out.push([name, value]));
    return out;
  };

  test("reads an object as new Headers(object) does", () => {
    const objects: Record<string, unknown>[] = [
      {},
      { "Upstash-Forward-B": " 2 ", "content-type": "application/json", "Upstash-Method": "POST", "upstash-forward-a": "1" },
      { "X-Same": "one", "x-same": "two", "x-num": 5, "x-tab": "\tv\t" },
    ];
    for (const object of objects) {
      const headers = new Headers(object as Record<string, string>);
      expect(entries(headersOf(object))).toEqual(entries(headers));
      for (const name of ["content-type", "upstash-method", "x-same", "missing"]) expect(headersOf(object).get(name)).toBe(headers.get(name));
      expect(parsePublishHeaders(headersOf(object))).toEqual(parsePublishHeaders(headers));
    }
  });

  test("refuses what new Headers refuses", () => {
    const objects: Record<string, string>[] = [{ "bad name": "x" }, { "x-a": "line\nbreak" }, { "x-a": "nul\0" }, { "x-a": "snow ☃" }];
    for (const object of objects) {
      expect(() => new Headers(object)).toThrow();
      expect(() => headersOf(object)).toThrow(TypeError);
    }
  });
});

describe("flowControl", () => {
  test("parses parallelism, rate and period", () => {
    expect(flowControl("k", "rate=10")).toEqual({ flowControlKey: "k", rate: 10 });
    expect(flowControl("k", "parallelism=2,period=5s")).toEqual({ flowControlKey: "k", parallelism: 2, period: 5 });
    expect(flowControl(null, null)).toEqual({});
  });
  test("rejects what it cannot use", () => {
    expect(() => flowControl(null, "rate=1")).toThrow(/needs an Upstash-Flow-Control-Key/);
    expect(() => flowControl("k", null)).toThrow(/missing Upstash-Flow-Control-Value/);
    expect(() => flowControl("k", "parallelism=0")).toThrow(/parallelism/);
    expect(() => flowControl("k", "speed=3")).toThrow(/unknown key "speed"/);
    expect(() => flowControl("k", "period=1m")).toThrow(/at least parallelism or rate/);
    expect(() => flowControl("k", "rate=1, period=soon")).toThrow(/period/);
  });
});
