export type { FetchFunction, RetryOptions } from "./broker-api.ts";
export { createClient } from "./client.ts";
export { IDEMPOTENCY_HEADER, MAX_ATTEMPTS_HEADER } from "./headers.ts";
export type { ClientOptions, EnqueueResult, JobClient, ScheduleOptions } from "./client.ts";
export { type EnvGetter, type QStashEnv, readQStashEnv, readSigningKeys } from "./env.ts";
export { type Duration, formatDuration, parseDuration } from "./duration.ts";
export {
  type BatchItemResult,
  BrokerError,
  BrokerUnreachableError,
  ConfigError,
  EnqueueBatchError,
  type InputIssue,
  JobInputError,
  JobwireError,
  type JobwireErrorOptions,
  NonRetryableError,
  RetryLaterError,
  SignatureError,
  StoreUnavailableError,
} from "./errors.ts";
export {
  type ClaimResult,
  DEFAULT_DONE_TTL_MS,
  type IdempotencyStore,
  type MemoryStore,
  type MemoryStoreOptions,
  memoryStore,
} from "./idempotency.ts";
export { defineJob, validateInput } from "./job.ts";
export type {
  AnyJob,
  DeliveryOptions,
  EnqueueOptions,
  FlowControl,
  InputOf,
  Job,
  JobDefinition,
  JobRequest,
  OutputOf,
  ValidationResult,
} from "./job.ts";
export type { Logger } from "./logger.ts";
export {
  createVerifier,
  type SignatureClaims,
  type SignInput,
  type SigningKeys,
  signDelivery,
  type Verifier,
  type VerifierOptions,
  type VerifyInput,
} from "./signing.ts";
export { createWorker } from "./worker.ts";
export type { Handler, JobContext, Worker, WorkerOptions } from "./worker.ts";
