import type { Context, Hono } from "hono";
import type { BrokerCore } from "../core.ts";
import { badRequest, notFound } from "../errors.ts";
import { readJson } from "../http.ts";
import { httpUrl, name as checkName } from "../publish-options.ts";
import type { TopicRecord } from "../types.ts";

type Endpoint = { name?: string; url?: string };

async function readEndpoints(c: Context, core: BrokerCore): Promise<Endpoint[]> {
  const json = await readJson(c, core.maxBodyBytes);
  const endpoints = (json as { endpoints?: unknown } | undefined)?.endpoints;
  if (!Array.isArray(endpoints)) throw badRequest('expected a JSON body {"endpoints": [{"name"?, "url"}]}');
  return endpoints.map((e: unknown, i) => {
    if (typeof e !== "object" || e === null) throw badRequest(`endpoint ${i}: expected an object {"name"?, "url"}`);
    const { name, url } = e as Record<string, unknown>;
    if (name !== undefined && typeof name !== "string") throw badRequest(`endpoint ${i}: "name" must be a string`);
    if (url !== undefined && typeof url !== "string") throw badRequest(`endpoint ${i}: "url" must be a string`);
    return { ...(name ? { name } : {}), ...(url ? { url } : {}) };
  });
}

/** URL groups (topics on the wire): add/remove endpoints, get, list, delete. */
export function topicRoutes(app: Hono, core: BrokerCore): void {
  const save = (topic: TopicRecord) => core.writer.commit(() => core.store.upsertTopic(topic));

  app.post("/v2/topics/:name/endpoints", async (c) => {
    const name = checkName(c.req.param("name"), "URL group name");
    const added = await readEndpoints(c, core);
    const now = Date.now();
    const topic = core.topics.get(name) ?? { name, endpoints: [], createdAt: now, updatedAt: now };
    let endpoints = [...topic.endpoints];
    for (const endpoint of added) {
      if (!endpoint.url) throw badRequest("every endpoint needs a url");
      httpUrl(endpoint.url, "endpoint url");
      endpoints = endpoints.filter((e) => e.url !== endpoint.url && (!endpoint.name || e.name !== endpoint.name));
      endpoints.push(endpoint as { url: string; name?: string });
    }
    const updated = { ...topic, endpoints, updatedAt: now };
    await save(updated);
    core.topics.set(name, updated);
    return c.json(updated);
  });

  app.delete("/v2/topics/:name/endpoints", async (c) => {
    const name = c.req.param("name");
    const topic = core.topics.get(name);
    if (!topic) throw notFound(`URL group "${name}" not found`);
    const removed = await readEndpoints(c, core);
    const endpoints = topic.endpoints.filter(
      (e) => !removed.some((r) => (r.url !== undefined && r.url === e.url) || (r.name !== undefined && r.name === e.name)),
    );
    const updated = { ...topic, endpoints, updatedAt: Date.now() };
    await save(updated);
    core.topics.set(name, updated);
    return c.json(updated);
  });

  app.get("/v2/topics", (c) => c.json([...core.topics.values()]));

  app.get("/v2/topics/:name", (c) => {
    const topic = core.topics.get(c.req.param("name"));
    if (!topic) throw notFound(`URL group "${c.req.param("name")}" not found`);
    return c.json(topic);
  });

  app.delete("/v2/topics/:name", async (c) => {
    const name = c.req.param("name");
    if (!core.topics.has(name)) throw notFound(`URL group "${name}" not found`);
    await core.writer.commit(() => core.store.deleteTopic(name));
    core.topics.delete(name);
    return c.json({ deleted: name });
  });
}
