// Bundle entry: enqueueing (`createClient` + the same job), imported from the package root.
import { createClient } from "../../src/index.ts";
import { sendWelcomeEmail } from "./job.ts";

export const jobs = createClient({ workerUrl: "https://app.example.com/jobs", token: "qstash-token" });

export function enqueueWelcome(userId: number, email: string) {
  return jobs.enqueue(sendWelcomeEmail, { userId, email }, { delay: "10s" });
}
