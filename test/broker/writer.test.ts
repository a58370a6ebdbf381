import { expect, test } from "bun:test";
import { openDatabase, type SqlDriver } from "../../src/broker/store/driver.ts";
import { Store } from "../../src/broker/store/store.ts";
import { GroupWriter } from "../../src/broker/store/writer.ts";

// The group writer over a real SQLite store. A failed write is reported as itself, even where
// SQLite has already rolled the transaction back and ROLLBACK fails in turn (disk full, I/O error).

test("a failed commit rejects with the write's own error, not ROLLBACK's", async () => {
  const real = await openDatabase(":memory:");
  // As after a disk-full error: SQLite has rolled back by itself, so ROLLBACK finds no transaction.
  const db: SqlDriver = {
    exec(sql) {
      real.exec(sql);
      if (sql === "ROLLBACK") throw new Error("cannot rollback - no transaction is active");
    },
    prepare: (sql) => real.prepare(sql),
    all: (sql, ...params) => real.all(sql, ...params),
    close: () => real.close(),
  };
  const reported: unknown[] = [];
  const writer = new GroupWriter(new Store(db, true), (error) => reported.push(error));
  try {
    await expect(
      writer.commit(() => {
        throw new Error("disk I/O error");
      }),
    ).rejects.toThrow("disk I/O error");
    expect(reported.map((e) => (e as Error).message)).toEqual(["disk I/O error"]);
    // The writer goes on: the next commit succeeds.
    await writer.commit(() => {});
  } finally {
    writer.close();
    real.close();
  }
});
