/** Number formatting shared by the text outputs (fixed locale: results must not vary by machine). */

const intFormat = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });

/** 12345.6 → "12,346". */
export const formatInt = (v: number): string => intFormat.format(v);

/** A latency in ms with 3 significant-ish digits: 0.412, 4.80, 48.0, 1,203. */
export function formatMs(ms: number): string {
  if (ms < 1) return ms.toFixed(3);
  if (ms < 10) return ms.toFixed(2);
  if (ms < 100) return ms.toFixed(1);
  return formatInt(ms);
}

/** A rate per second: integers above 100/s, one decimal below. */
export function formatRate(perS: number): string {
  return perS >= 100 || Number.isInteger(perS) ? formatInt(perS) : perS.toFixed(1);
}

/** A duration in seconds: "3.0s", "59.9s", "2m 05s", "1h 00m 00s". */
export function formatSeconds(seconds: number): string {
  if (seconds < 60) return `${seconds.toFixed(1)}s`;
  const total = Math.round(seconds);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const sec = String(total % 60).padStart(2, "0");
  return h > 0 ? `${h}h ${String(m).padStart(2, "0")}m ${sec}s` : `${m}m ${sec}s`;
}

/**
 * Aligned columns, two spaces apart. By default the first column is left-aligned and the others
 * right-aligned (numbers); `align` overrides per column ("l" or "r").
 */
export function table(rows: string[][], opts: { indent?: string; align?: string } = {}): string[] {
  const indent = opts.indent ?? "  ";
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  const left = (i: number) => (opts.align ? opts.align[i] !== "r" : i === 0);
  return rows.map(
    (row) => indent + row.map((cell, i) => (left(i) ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join("  ").trimEnd(),
  );
}
