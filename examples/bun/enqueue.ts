// Enqueues one of each job of ../jobs.ts, on Bun. Needs QSTASH_TOKEN and QSTASH_URL (`jobwire dev`
// prints them; QSTASH_URL defaults to the hosted QStash), and WORKER_URL, where the broker reaches
// the worker (default http://127.0.0.1:3000/jobs). `bun enqueue.ts [userId]`.
import { createClient } from "jobwire";
import { qstashFromEnv } from "jobwire/adapters/bun";
import { importCsv, resizeImage, sendWelcomeEmail } from "../jobs.ts";

const jobs = createClient({ ...qstashFromEnv(), workerUrl: Bun.env.WORKER_URL ?? "http://127.0.0.1:3000/jobs" });
const userId = Number(Bun.argv[2] ?? 42);

const enqueued = {
  [sendWelcomeEmail.name]: await jobs.enqueue(sendWelcomeEmail, { userId }),
  [resizeImage.name]: await jobs.enqueue(resizeImage, { imageId: `avatar-${userId}`, width: 256 }),
  [importCsv.name]: await jobs.enqueue(importCsv, { fileUrl: "https://files.example.com/users.csv" }),
};
for (const [job, { messageId, deduplicated }] of Object.entries(enqueued)) {
  console.log(`enqueued ${job} ${messageId}${deduplicated ? " (deduplicated)" : ""}`);
}
