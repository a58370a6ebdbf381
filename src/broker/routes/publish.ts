import type { Hono } from "hono";
import type { BrokerCore } from "../core.ts";
import { badRequest } from "../errors.ts";
import { callerIp, rawRest, readBody, readJson } from "../http.ts";
import { headersOf, parsePublishHeaders } from "../publish-options.ts";
import type { PublishRequest } from "../publisher.ts";

/** `POST /v2/publish/{destination}`, `POST /v2/enqueue/{queue}/{destination}`, `POST /v2/batch`. */
export function publishRoutes(app: Hono, core: BrokerCore): void {
  app.post("/v2/publish/*", async (c) => {
    const destination = rawRest(c, "/v2/publish/");
    const spec = parsePublishHeaders(c.req.raw.headers);
    const body = await readBody(c, core.maxBodyBytes);
    const [outcome] = await core.publisher.publish([withCaller({ destination, spec, body }, callerIp(c))]);
    return c.json(outcome!.result, outcome!.status);
  });

  app.post("/v2/enqueue/*", async (c) => {
    const rest = rawRest(c, "/v2/enqueue/");
    const slash = rest.indexOf("/");
    if (slash <= 0) throw badRequest("expected /v2/enqueue/<queue name>/<destination>");
    const queueName = decodeName(rest.slice(0, slash));
    const destination = rest.slice(slash + 1);
    const spec = parsePublishHeaders(c.req.raw.headers);
    const body = await readBody(c, core.maxBodyBytes);
    const [outcome] = await core.publisher.publish([withCaller({ destination, spec, body, queueName }, callerIp(c))]);
    return c.json(outcome!.result, outcome!.status);
  });

  app.post("/v2/batch", async (c) => {
    // A batch carries many bodies: allow it many times the single-message limit (each body is still checked).
    const json = await readJson(c, core.maxBodyBytes * 10);
    if (!Array.isArray(json)) throw badRequest("expected a JSON array of {destination, headers, body, queue}");
    const encoder = new TextEncoder();
    const caller = callerIp(c);
    const requests: PublishRequest[] = json.map((item: unknown, index) => {
      if (typeof item !== "object" || item === null) throw badRequest(`batch item ${index}: expected an object`);
      const { destination, headers, body, queue } = item as Record<string, unknown>;
      if (typeof destination !== "string") throw badRequest(`batch item ${index}: "destination" must be a string`);
      if (headers !== undefined && (typeof headers !== "object" || headers === null)) {
        throw badRequest(`batch item ${index}: "headers" must be an object of strings`);
      }
      if (body !== undefined && body !== null && typeof body !== "string") throw badRequest(`batch item ${index}: "body" must be a string`);
      if (queue !== undefined && queue !== null && typeof queue !== "string") throw badRequest(`batch item ${index}: "queue" must be a string`);
      let spec;
      try {
        // An array of [name, value] pairs is a header list `Headers` reads too.
        spec = parsePublishHeaders(Array.isArray(headers) ? new Headers(headers) : headersOf(headers as Record<string, unknown> | undefined));
      } catch (error) {
        throw badRequest(`batch item ${index}: ${(error as Error).message}`);
      }
      const request: PublishRequest = withCaller({ destination, spec, body: encoder.encode(body ?? "") }, caller);
      if (queue) request.queueName = queue;
      return request;
    });
    const outcomes = await core.publisher.publish(requests);
    return c.json(outcomes.map((o) => o.result), 201);
  });
}

function withCaller(request: PublishRequest, ip: string | undefined): PublishRequest {
  if (ip) request.callerIp = ip;
  return request;
}

/** A percent-encoded queue name, decoded; a malformed escape is the caller's mistake (400). */
function decodeName(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw badRequest(`invalid queue name "${text}": a malformed percent-escape`);
  }
}
