/**
 * The cdktf context the app reads (`CDKTF_CONTEXT_JSON`, which `cdktf synth` passes on), checked
 * before anything is built or written: a malformed value is one clear line and exit 2, not a
 * SyntaxError from deep inside cdktf or a key that is silently ignored (`{"config": 5}`).
 */
import { z } from 'zod';
import { UsageError } from '../errors.ts';
import { STAGES, type Stage } from './schema.ts';

export const CONTEXT_ENV = 'CDKTF_CONTEXT_JSON';

/** Keys cdktf itself adds or understands (e.g. `cdktfRelativeModules`, set by `cdktf synth`). */
const CDKTF_OWN_KEY = /^(?:cdktf[A-Z]\w*|excludeStackIdFromLogicalIds|allowSepCharsInLogicalIds)$/;

const contextSchema = z
  .looseObject(
    {
      /** Overrides rollout.stage of the config file. */
      stage: z.enum(STAGES, { error: `must be one of ${STAGES.join(', ')}` }).optional(),
      /** Path of the config file, relative to the working directory. */
      config: z.string({ error: 'must be the path of the config file (a string)' }).min(1, { error: 'must not be empty' }).optional(),
    },
    { error: 'must be a JSON object such as {"stage":"expand"}' },
  )
  .superRefine((context, ctx) => {
    for (const key of Object.keys(context)) {
      if (key !== 'stage' && key !== 'config' && !CDKTF_OWN_KEY.test(key)) {
        ctx.addIssue({ code: 'custom', path: [key], message: 'is not a context key of this app (known: stage, config)' });
      }
    }
  });

export interface SynthContext {
  readonly stage: Stage | undefined;
  readonly config: string | undefined;
}

/** The validated context from `env`; throws UsageError naming the variable and the bad key. */
export function readSynthContext(env: NodeJS.ProcessEnv): SynthContext {
  const text = env[CONTEXT_ENV];
  if (text === undefined || text.trim() === '') return { stage: undefined, config: undefined };
  const remedy = `set ${CONTEXT_ENV} to a JSON object, e.g. ${CONTEXT_ENV}='{"stage":"expand","config":"consul-rollout.config.json"}'`;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    // The parser's message quotes the value; a mistyped context may hold anything.
    throw new UsageError(`${CONTEXT_ENV} is not valid JSON`, { remedy });
  }
  const parsed = contextSchema.safeParse(json);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.length === 0 ? '(top level)' : issue.path.map(String).join('.')} ${issue.message}`);
    throw new UsageError(`${CONTEXT_ENV}: ${problems.join('; ')}`, { remedy });
  }
  return { stage: parsed.data.stage, config: parsed.data.config };
}
