// Bundle entry: the worker and the client in one bundle (an app that enqueues its own jobs).
export { app } from "./worker.ts";
export { enqueueWelcome, jobs } from "./client.ts";
