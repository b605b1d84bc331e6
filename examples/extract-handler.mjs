// The `extract` job type: pull fields out of free text into a JSON Schema. An answer that does
// not match the schema throws SWY_OUTPUT_INVALID, so the engine retries the attempt (another
// answer may pass) and fails the job once its attempts are spent.
import { Ajv } from 'ajv';

const ajv = new Ajv({ strict: false });

export default async function extract(input, ctx) {
  const res = await ctx.llm({
    model: input.model,
    messages: [
      { role: 'system', content: 'Extract the requested fields from the text. Answer with JSON only.' },
      { role: 'user', content: input.text },
    ],
    responseSchema: input.schema,
    temperature: 0,
  });
  let data;
  try {
    data = JSON.parse(res.text.replace(/^```(?:json)?|```$/g, '').trim());
  } catch {
    throw Object.assign(new Error('the answer is not JSON'), { code: 'SWY_OUTPUT_INVALID' });
  }
  const validate = ajv.compile(input.schema);
  if (!validate(data)) {
    throw Object.assign(new Error(`the answer fails the schema: ${ajv.errorsText(validate.errors)}`), { code: 'SWY_OUTPUT_INVALID' });
  }
  ctx.log.info(`extracted ${Object.keys(data).length} fields on attempt ${ctx.attempt}`);
  return { data, provider: res.provider, model: res.model };
}
