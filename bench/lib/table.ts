/** Markdown tables: a header row, an alignment row, and the rows, with `|` in cells escaped. */

export type Align = "left" | "right";

export function markdownTable(header: readonly string[], rows: readonly (readonly string[])[], align?: readonly Align[]): string {
  const cell = (text: string) => text.replace(/\|/g, "\\|").replace(/\n/g, " ");
  const line = (cells: readonly string[]) => `| ${cells.map(cell).join(" | ")} |`;
  const rule = `|${header.map((_, i) => ((align?.[i] ?? (i === 0 ? "left" : "right")) === "right" ? "---:" : "---")).join("|")}|`;
  for (const row of rows) {
    if (row.length !== header.length) throw new Error(`table row has ${row.length} cells, header has ${header.length}: ${row.join(" | ")}`);
  }
  return [line(header), rule, ...rows.map(line)].join("\n");
}
