/**
 * Listing jobs, newest first, with keyset cursors on `seq`. Both stores use it; each supplies the
 * three reads below in its own SQL.
 *
 * Filters that no index serves (provider, creation time, a metadata value) go in bounded windows
 * of `seq`. Why by hand: an index per filter would cost every submit and every outcome write, and a scan
 * without a bound lets one request read every row of a table with millions. Instead one page
 * examines at most LIST_SCAN_ROWS consecutive `seq` values; a page that ran out of window before
 * it filled says where to go on with its `nextCursor`, so a page may hold fewer than `limit` jobs
 * (even none) and still have a next one.
 */
import type { ListJobsQuery } from '../domain/jobs.js';
import { decodeCursor, encodeCursor } from './rows.js';

/** Most `seq` values one filtered page examines. */
export const LIST_SCAN_ROWS = 10_000;

/**
 * Rows are created in `seq` order, but processes sharing a database may disagree on the clock by
 * up to this much: the seek for a time range widens its bounds by it, and the exact filter on
 * `created_at` then keeps only the rows inside the range.
 */
const CLOCK_SKEW_MS = 60_000;

/** The reads a store supplies: index lookups, and one range of `seq` (bounded when windowed). */
export interface ListReads<Row extends { seq: number }> {
  /** The smallest and largest `seq` in the table, or undefined when it is empty. */
  range(): Promise<{ min: number; max: number } | undefined>;
  /** `created_at` of the newest row whose `seq` is at most `seq`, or undefined when there is none. */
  createdAt(seq: number): Promise<number | undefined>;
  /** Up to `limit` rows with `from <= seq < before` that pass every filter of the query, newest first. */
  rows(from: number, before: number, limit: number): Promise<Row[]>;
}

/** Whether the query has a filter that no index serves, so that its pages go by windows. */
function needsWindow(q: ListJobsQuery): boolean {
  return q.provider !== undefined || q.metadata !== undefined || q.createdFrom !== undefined || q.createdTo !== undefined;
}

/** One page: at most `limit` rows (default 50), and where the next page starts (null after the last). */
export async function listPage<Row extends { seq: number }>(
  q: ListJobsQuery,
  reads: ListReads<Row>,
): Promise<{ rows: Row[]; nextCursor: string | null }> {
  const limit = q.limit ?? 50;
  const cursor = q.cursor === undefined ? undefined : decodeCursor(q.cursor);
  if (!needsWindow(q)) return fill(await reads.rows(0, cursor ?? Number.MAX_SAFE_INTEGER, limit + 1), limit, null);
  const range = await reads.range();
  if (!range) return { rows: [], nextCursor: null };
  let before = cursor ?? range.max + 1;
  let floor = range.min;
  if (q.createdTo !== undefined) before = Math.min(before, await firstAfter(reads, range, q.createdTo + CLOCK_SKEW_MS));
  if (q.createdFrom !== undefined) floor = Math.max(floor, await firstAfter(reads, range, q.createdFrom - CLOCK_SKEW_MS - 1));
  if (before <= floor) return { rows: [], nextCursor: null };
  const from = Math.max(floor, before - LIST_SCAN_ROWS);
  return fill(await reads.rows(from, before, limit + 1), limit, from > floor ? from : null);
}

/** `rows` (asked for one more than `limit`) as a page: past the last row when it was full, else at `short`. */
function fill<Row extends { seq: number }>(rows: Row[], limit: number, short: number | null): { rows: Row[]; nextCursor: string | null } {
  if (rows.length <= limit) return { rows, nextCursor: short === null ? null : encodeCursor(short) };
  rows.pop();
  return { rows, nextCursor: encodeCursor((rows.at(-1) as Row).seq) };
}

/** The smallest `seq` whose row was created after `at` (max + 1 if none was): a binary search over the primary key. */
async function firstAfter<Row extends { seq: number }>(
  reads: ListReads<Row>,
  range: { min: number; max: number },
  at: number,
): Promise<number> {
  let lo = range.min;
  let hi = range.max + 1;
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2);
    const created = await reads.createdAt(mid);
    if (created !== undefined && created > at) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}
