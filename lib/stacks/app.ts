import type { App } from 'cdktf';
import { loadRolloutConfig } from '../config/load.ts';
import { ConsulClusterStack } from './consul-cluster-stack.ts';

export interface BuildRolloutAppOptions {
  /**
   * Directory the config path is resolved from.
   * @default process.cwd()
   */
  readonly cwd?: string;
  /**
   * TypeScript entry of the drain handler Lambda.
   * @default DRAIN_HANDLER_DEFAULTS.entry (lib/lambda/entry.ts)
   */
  readonly handlerEntry?: string;
}

/**
 * The cdktf context keys the app reads, e.g. `CDKTF_CONTEXT_JSON='{"stage":"expand"}' cdktf synth`.
 * cdktf.json deliberately has no "context" key: the CLI would replace CDKTF_CONTEXT_JSON with it.
 */
export const CONTEXT_KEYS = {
  /** Overrides rollout.stage of the config file: canary | expand | retire. */
  stage: 'stage',
  /** Path of the config file. @default CONFIG_DEFAULTS.configPath */
  config: 'config',
} as const;

/**
 * Adds the stack for the configured stage to `app`: the whole of what `cdktf synth` does apart
 * from writing the output. Throws UsageError for an invalid config or context.
 */
export function buildRolloutApp(app: App, options: BuildRolloutAppOptions = {}): ConsulClusterStack {
  const stage: unknown = app.node.tryGetContext(CONTEXT_KEYS.stage);
  const path: unknown = app.node.tryGetContext(CONTEXT_KEYS.config);
  const config = loadRolloutConfig({
    cwd: options.cwd,
    path: typeof path === 'string' ? path : undefined,
    overrides: stage === undefined ? {} : { stage },
  });
  return new ConsulClusterStack(app, { config, handlerEntry: options.handlerEntry });
}
