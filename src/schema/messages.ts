/** The typed messages between the main thread and the schema thread. */

/** Compile `schema` (and keep it under `key`), or check `value` against it. */
export type SchemaTask =
  /** Nothing to do: run once on a new thread before timed tasks, so its start-up is not counted against them. */
  { kind: 'ping' } | { kind: 'compile'; key: string; schema: string } | { kind: 'validate'; key: string; schema: string; value: unknown };

export type SchemaResult =
  | { ok: true }
  /** `message` names the problem: why the schema does not compile, or the first place the value fails it. */
  | { ok: false; message: string };
