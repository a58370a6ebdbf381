// The worker, on Deno: serves ./app.ts with jobwire/adapters/deno's serve() (Deno.serve) and says
// where. PORT: default 3000, 0 = any free port. Stops at start when a signing key is missing.
import { serve } from "jobwire/adapters/deno";
import app from "./app.ts";

// The repository also type-checks examples with tsc and Bun's types, which have no `Deno`: declare
// the part used here (at run time it is Deno's own global).
declare const Deno: { env: { get(name: string): string | undefined } };

const server = await serve(app, { port: Number(Deno.env.get("PORT")?.trim() || 3000) });
console.log(`worker listening on ${server.url}/jobs`);
