/** A value SQLite can bind or return. */
export type SqlValue = string | number | bigint | null | Uint8Array;

/** A prepared statement, the subset both `bun:sqlite` and `node:sqlite` share. */
export interface SqlStatement {
  run(...params: SqlValue[]): void;
  get<T = Record<string, SqlValue>>(...params: SqlValue[]): T | undefined;
  all<T = Record<string, SqlValue>>(...params: SqlValue[]): T[];
}

/** The storage seam: a synchronous SQLite connection. */
export interface SqlDriver {
  exec(sql: string): void;
  /** A statement to keep and run many times (finalized at `close`). */
  prepare(sql: string): SqlStatement;
  /** Runs a query once and finalizes its statement (SQL built per call, such as a filter's). */
  all<T = Record<string, SqlValue>>(sql: string, ...params: SqlValue[]): T[];
  close(): void;
}

/**
 * Opens a SQLite database with the runtime's own driver: `bun:sqlite` on Bun, `node:sqlite`
 * otherwise (Deno, Node >= 22.5). `path` is a file path or `":memory:"`.
 */
export async function openDatabase(path: string): Promise<SqlDriver> {
  if ((globalThis as { Bun?: unknown }).Bun) return openBun(path);
  return openNode(path);
}

async function openBun(path: string): Promise<SqlDriver> {
  const { Database } = await import("bun:sqlite");
  const db = new Database(path, { create: true });
  // bun:sqlite closes a connection for real only once its statements are finalized (until then it
  // keeps the file, and its lock, open): the live ones are finalized at close.
  type Statement = ReturnType<typeof db.prepare>;
  const statements = new Set<WeakRef<Statement>>();
  const collected = new FinalizationRegistry<WeakRef<Statement>>((ref) => statements.delete(ref));
  return {
    exec: (sql) => db.run(sql),
    prepare(sql) {
      const statement = db.prepare(sql);
      const ref = new WeakRef(statement);
      statements.add(ref);
      collected.register(statement, ref);
      return {
        run: (...params) => void statement.run(...(params as never[])),
        // bun:sqlite answers null for no row; the seam says undefined, as node:sqlite does.
        get: (...params) => (statement.get(...(params as never[])) ?? undefined) as never,
        all: (...params) => statement.all(...(params as never[])) as never,
      };
    },
    // Finalized at once: a statement left to the collector may be collected without being
    // finalized yet, and then holds the file (and its lock) open past `close`.
    all(sql, ...params) {
      const statement = db.prepare(sql);
      try {
        return statement.all(...(params as never[])) as never;
      } finally {
        statement.finalize();
      }
    },
    close() {
      for (const ref of statements) ref.deref()?.finalize();
      statements.clear();
      db.close();
    },
  };
}

/** This runtime has no SQLite the broker can use (Node.js before 22.5). */
export class SqliteUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "SqliteUnavailableError";
  }
}

async function openNode(path: string): Promise<SqlDriver> {
  let sqlite: typeof import("node:sqlite");
  try {
    sqlite = await import("node:sqlite");
  } catch (error) {
    throw new SqliteUnavailableError(
      `jobwire dev needs SQLite, which this Node.js (${process.version}) does not have: run it with Bun (\`npx bun ...\`), Deno 2, or Node >= 22.5 (node:sqlite)`,
      { cause: error },
    );
  }
  const db = new sqlite.DatabaseSync(path);
  return {
    exec: (sql) => db.exec(sql),
    prepare(sql) {
      const statement = db.prepare(sql);
      return {
        run: (...params) => void statement.run(...(params as never[])),
        get: (...params) => statement.get(...(params as never[])) as never,
        all: (...params) => statement.all(...(params as never[])) as never,
      };
    },
    all: (sql, ...params) => db.prepare(sql).all(...(params as never[])) as never,
    close: () => db.close(),
  };
}
