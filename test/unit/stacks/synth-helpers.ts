/**
 * Shared fixtures of the stack tests: one test config (independent of the checked-in example),
 * synthesis of a stage with the stub handler, and small accessors over the synthesized JSON.
 */
import { fileURLToPath } from 'node:url';
import { Testing } from 'cdktf';
import { parseRolloutConfig } from '../../../lib/config/load.ts';
import type { RolloutConfig } from '../../../lib/config/load.ts';
import type { Stage } from '../../../lib/config/schema.ts';
import { ConsulClusterStack } from '../../../lib/stacks/consul-cluster-stack.ts';
import { testConfigInput } from '../../fixtures/stacks/test-config.ts';

export const STUB_HANDLER_ENTRY = fileURLToPath(new URL('../../fixtures/stacks/stub-handler.ts', import.meta.url));

export function testConfig(stage: Stage, patch: (raw: Record<string, unknown>) => void = () => {}): RolloutConfig {
  const raw = testConfigInput();
  patch(raw);
  return parseRolloutConfig(raw, { source: 'test-config', baseDir: process.cwd(), overrides: { stage } });
}

export function stageStack(stage: Stage, patch?: (raw: Record<string, unknown>) => void): ConsulClusterStack {
  return new ConsulClusterStack(Testing.app(), { config: testConfig(stage, patch), handlerEntry: STUB_HANDLER_ENTRY });
}

export interface Synthesized {
  readonly resource: Record<string, Record<string, Record<string, unknown>>>;
  readonly data: Record<string, Record<string, Record<string, unknown>>>;
  readonly output?: Record<string, { value: unknown }>;
  readonly [key: string]: unknown;
}

/** The stage's synthesized stack JSON (Testing.synth: no assets written). */
export function synthStage(stage: Stage, patch?: (raw: Record<string, unknown>) => void): Synthesized {
  return JSON.parse(Testing.synth(stageStack(stage, patch))) as Synthesized;
}

/** Blocks of one resource type, by logical name. */
export function resourcesOf(synth: Synthesized, type: string): Record<string, Record<string, unknown>> {
  return synth.resource[type] ?? {};
}

/** The single block of a type whose logical name contains `fragment`. */
export function resourceNamed(synth: Synthesized, type: string, fragment: string): Record<string, unknown> {
  const matches = Object.entries(resourcesOf(synth, type)).filter(([name]) => name.includes(fragment));
  if (matches.length !== 1) throw new Error(`expected one ${type} named like ${fragment}, found ${matches.map(([n]) => n).join(', ') || 'none'}`);
  return (matches[0] as [string, Record<string, unknown>])[1];
}

/** Every IAM policy document statement of the stack, labelled with its document. */
export function policyStatements(synth: Synthesized): { document: string; statement: Record<string, unknown> }[] {
  const documents = synth.data['aws_iam_policy_document'] ?? {};
  return Object.entries(documents).flatMap(([document, body]) =>
    (body['statement'] as Record<string, unknown>[]).map((statement) => ({ document, statement })),
  );
}

/** Decoded user data of a generation's launch template. */
export function userDataOf(synth: Synthesized, generation: string): string {
  const template = resourceNamed(synth, 'aws_launch_template', `Generation-${generation}_`);
  return Buffer.from(String(template['user_data']), 'base64').toString('utf8');
}
