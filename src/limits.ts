/** The limits on what one request may carry: defaults here, checks in src/http/limits.ts. */

/** Limits on what a request may carry. Each one passed answers with a coded 413 or 400. */
export interface InputLimits {
  /** Largest request body, bytes (413 SWY_BODY_TOO_LARGE). @default 1048576 */
  bodyBytes: number;
  /** Most jobs in one `POST /v1/jobs/batch` (413 SWY_LIMIT_EXCEEDED). @default 1000 */
  batch: number;
  /** Most chat messages in one job (413 SWY_LIMIT_EXCEEDED). @default 1000 */
  messages: number;
  /** Largest `metadata` of one job, bytes of JSON (413 SWY_LIMIT_EXCEEDED). @default 16384 */
  metadataBytes: number;
  /** Longest string (or object key) anywhere in a body, characters (413 SWY_LIMIT_EXCEEDED). @default 262144 */
  stringLength: number;
  /** Deepest nesting of objects and arrays in a body (400 SWY_JSON_TOO_DEEP). @default 64 */
  jsonDepth: number;
}

export const DEFAULT_LIMITS: InputLimits = {
  bodyBytes: 1_048_576,
  batch: 1000,
  messages: 1000,
  metadataBytes: 16_384,
  stringLength: 262_144,
  jsonDepth: 64,
};
