// The `summarise` job type: map-reduce over a long text. Runs in a worker thread of the engine;
// every ctx.llm() call goes through the router (breakers, failover, limits, usage accounting).

/** Split text into chunks of about `size` characters, on paragraph or sentence ends when possible. */
function chunks(text, size) {
  const out = [];
  let rest = text.trim();
  while (rest.length > size) {
    const window = rest.slice(0, size);
    const cut = Math.max(window.lastIndexOf('\n\n'), window.lastIndexOf('. ') + 1);
    const at = cut > size / 2 ? cut : size;
    out.push(rest.slice(0, at).trim());
    rest = rest.slice(at).trim();
  }
  if (rest) out.push(rest);
  return out;
}

export default async function summarise(input, ctx) {
  const parts = chunks(input.text, input.chunkChars ?? 2000);
  ctx.log.info(`summarising ${parts.length} chunks (attempt ${ctx.attempt})`);
  let done = 0;
  // Map: one call per chunk, all at once; the engine's limits decide how many really run together.
  const partials = await Promise.all(parts.map(async (part) => {
    const res = await ctx.llm({
      model: input.model,
      messages: [
        { role: 'system', content: 'Summarise the passage in two sentences. Keep names and numbers.' },
        { role: 'user', content: part },
      ],
      maxTokens: 200,
    });
    ctx.progress(Math.round((++done / (parts.length + 1)) * 100));
    return res.text;
  }));
  if (ctx.signal.aborted) throw ctx.signal.reason;
  // Reduce: one call over the partial summaries.
  const final = await ctx.llm({
    model: input.model,
    messages: [
      { role: 'system', content: `Combine these partial summaries into one summary of at most ${input.maxWords ?? 120} words.` },
      { role: 'user', content: partials.map((p, i) => `${i + 1}. ${p}`).join('\n') },
    ],
    maxTokens: 400,
  });
  ctx.progress(100);
  return { summary: final.text, chunks: parts.length, partials };
}
