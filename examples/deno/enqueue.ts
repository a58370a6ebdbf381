// Enqueues one of each job of ../jobs.ts, on Deno. Needs QSTASH_TOKEN and QSTASH_URL (`jobwire dev`
// prints them; QSTASH_URL defaults to the hosted QStash), and WORKER_URL, where the broker reaches
// the worker (default http://127.0.0.1:3000/jobs). `deno task enqueue [userId]`.
import { createClient } from "jobwire";
import { qstashFromEnv } from "jobwire/adapters/deno";
import { importCsv, resizeImage, sendWelcomeEmail } from "../jobs.ts";

// The repository also type-checks examples with tsc and Bun's types, which have no `Deno`: declare
// the part used here (at run time it is Deno's own global).
declare const Deno: { env: { get(name: string): string | undefined }; args: string[] };

const jobs = createClient({ ...qstashFromEnv(), workerUrl: Deno.env.get("WORKER_URL") ?? "http://127.0.0.1:3000/jobs" });
const userId = Number(Deno.args[0] ?? 42);

const enqueued = {
  [sendWelcomeEmail.name]: await jobs.enqueue(sendWelcomeEmail, { userId }),
  [resizeImage.name]: await jobs.enqueue(resizeImage, { imageId: `avatar-${userId}`, width: 256 }),
  [importCsv.name]: await jobs.enqueue(importCsv, { fileUrl: "https://files.example.com/users.csv" }),
};
for (const [job, { messageId, deduplicated }] of Object.entries(enqueued)) {
  console.log(`enqueued ${job} ${messageId}${deduplicated ? " (deduplicated)" : ""}`);
}
