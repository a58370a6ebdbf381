#!/usr/bin/env bun
/**
 * The `jobwire` command line. `jobwire dev` starts the local QStash-compatible broker.
 */
import { parseArgs } from "node:util";
import { parseDuration } from "../src/duration.ts";
import { type BrokerOptions, createBroker, PortInUseError } from "../src/broker/index.ts";

const USAGE = `Usage: jobwire dev [options]

Starts a local, durable, QStash-compatible broker (the official @upstash/qstash SDK works against it
unchanged, including its dev mode: QSTASH_DEV=true).

Options:
  --port <n>              port to listen on (0 = any free port)        [default: 8080]
  --host <address>        address to bind                              [default: 127.0.0.1]
  --db <file>             SQLite file                                  [default: .jobwire/dev.sqlite]
  --memory                keep everything in memory (nothing survives a restart)
  --dedup-window <dur>    how long deduplication ids are remembered    [default: 10m]
  --redis <url>           also serve the Upstash Redis REST API in front of this Redis
  --redis-port <n>        port of the Redis REST API                   [default: 8079]
  --redis-timeout <dur>   how long a REST request waits for Redis      [default: 5s]
  -h, --help              show this help
`;

function fail(message: string): never {
  console.error(`jobwire: ${message}`);
  process.exit(1);
}

/** `--host`: an address to listen on; an empty one would listen on every interface. */
function host(value: string | undefined): string {
  if (value === undefined) return "127.0.0.1";
  if (value.trim() === "") fail("--host needs an address, such as 127.0.0.1 (0.0.0.0 listens on every interface)");
  return value.trim();
}

function port(value: string | undefined, flag: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value) || Number(value) > 65535) fail(`invalid ${flag} "${value}": expected a port number from 0 to 65535`);
  return Number(value);
}

async function dev(argv: string[]): Promise<void> {
  let held: string[] | undefined = [];
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        port: { type: "string" },
        host: { type: "string" },
        db: { type: "string" },
        memory: { type: "boolean" },
        "dedup-window": { type: "string" },
        redis: { type: "string" },
        "redis-port": { type: "string" },
        "redis-timeout": { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    fail(`${(error as Error).message}\n\n${USAGE}`);
  }
  if (values.help) {
    console.log(USAGE);
    return;
  }

  const options: BrokerOptions = {
    port: port(values.port, "--port", 8080),
    host: host(values.host),
    // Held until the environment lines are out: a restarted broker resumes (and logs) at start.
    log: (line) => (held ? held.push(line) : console.log(line)),
  };
  if (values.memory) options.memory = true;
  if (values.db !== undefined) {
    if (values.memory) fail("--db and --memory exclude each other");
    if (values.db.trim() === "") fail("--db needs a file path");
    options.db = values.db;
  }
  if (values["dedup-window"] !== undefined) {
    try {
      options.dedupWindow = parseDuration(values["dedup-window"]) * 1000;
    } catch (error) {
      fail(`invalid --dedup-window: ${(error as Error).message}`);
    }
  }
  if (values.redis === undefined) {
    for (const flag of ["redis-port", "redis-timeout"] as const) if (values[flag] !== undefined) fail(`--${flag} needs --redis <url>`);
  } else {
    if (!URL.canParse(values.redis) || !["redis:", "rediss:"].includes(new URL(values.redis).protocol)) {
      fail(`invalid --redis "${values.redis}": expected a Redis URL, e.g. redis://127.0.0.1:6379 (rediss:// for TLS)`);
    }
    options.redis = { url: values.redis };
    if (values["redis-port"] !== undefined) options.redis.port = port(values["redis-port"], "--redis-port", 0);
    if (values["redis-timeout"] !== undefined) {
      let seconds = 0;
      try {
        seconds = parseDuration(values["redis-timeout"]);
      } catch (error) {
        fail(`invalid --redis-timeout: ${(error as Error).message}`);
      }
      if (seconds === 0) fail(`invalid --redis-timeout "${values["redis-timeout"]}": it must be at least 1s`);
      options.redis.commandTimeoutMs = seconds * 1000;
    }
  }

  let broker;
  try {
    broker = await createBroker(options);
  } catch (error) {
    if (error instanceof PortInUseError) fail(error.message);
    fail(`could not start: ${(error as Error).message}`);
  }
  // Handlers first: whoever waits for the "Running at" line may signal us right after it.
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      console.log(`${signal} again: exiting now`);
      process.exit(1);
    }
    stopping = true;
    console.log(`${signal}: shutting down (letting deliveries in flight settle)`);
    broker.close().then(
      () => process.exit(0),
      (error) => {
        console.error(`jobwire: error while shutting down: ${(error as Error).message}`);
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", () => stop("SIGINT"));
  process.on("SIGTERM", () => stop("SIGTERM"));
  console.log(`QSTASH_URL=${broker.url}`);
  console.log(`QSTASH_TOKEN=${broker.token}`);
  console.log(`QSTASH_CURRENT_SIGNING_KEY=${broker.signingKeys.current}`);
  console.log(`QSTASH_NEXT_SIGNING_KEY=${broker.signingKeys.next}`);
  if (broker.redis) {
    console.log(`UPSTASH_REDIS_REST_URL=${broker.redis.url}`);
    console.log(`UPSTASH_REDIS_REST_TOKEN=${broker.redis.token}`);
  }
  console.log("");
  console.log(`Running at ${broker.url} (${options.memory ? "in memory" : `database ${options.db ?? ".jobwire/dev.sqlite"}`})`);
  const lines = held ?? [];
  held = undefined;
  for (const line of lines) console.log(line);
}

const [command, ...rest] = process.argv.slice(2);
switch (command) {
  case "dev":
    await dev(rest);
    break;
  case undefined:
  case "help":
  case "--help":
  case "-h":
    console.log(USAGE);
    break;
  default:
    fail(`unknown command "${command}"\n\n${USAGE}`);
}
