// How numbers, money and times read on screen.
const usdFormats = new Map<number, Intl.NumberFormat>();

/** Dollars with enough digits that a fraction of a cent still shows (model calls cost that little). */
export function usd(value: number | null | undefined): string {
  if (value === null || value === undefined) return "—";
  const digits = value !== 0 && Math.abs(value) < 0.01 ? 6 : value !== 0 && Math.abs(value) < 1 ? 4 : 2;
  let format = usdFormats.get(digits);
  if (!format) {
    format = new Intl.NumberFormat("en-US", { style: "currency", currency: "USD", minimumFractionDigits: 2, maximumFractionDigits: digits });
    usdFormats.set(digits, format);
  }
  return format.format(value);
}

const integer = new Intl.NumberFormat("en-US");
export const count = (value: number | null | undefined) => (value === null || value === undefined ? "—" : integer.format(value));

export const percent = (value: number | null | undefined, digits = 0) =>
  value === null || value === undefined ? "—" : `${value.toFixed(digits)}%`;

export function dateTime(iso: string | null | undefined): string {
  if (!iso) return "—";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString("en-GB", { dateStyle: "medium", timeStyle: "short" });
}

/** A UTC day as yyyy-MM-dd, the API's day format. */
export const utcDay = (date: Date) => date.toISOString().slice(0, 10);

export function daysAgo(days: number): string {
  const date = new Date();
  date.setUTCDate(date.getUTCDate() - days);
  return utcDay(date);
}
