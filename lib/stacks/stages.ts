import type { GenerationConfig, RolloutConfig } from '../config/load.ts';
import type { Stage } from '../config/schema.ts';

/** One generation as deployed in a stage. */
export interface StagedGeneration {
  readonly role: 'old' | 'new';
  readonly generation: GenerationConfig;
  /** Servers the generation runs in this stage. */
  readonly desiredCapacity: number;
}

/**
 * Which generations exist, at what size, in each stage (docs/design.md, "Rollout model"):
 *
 * - canary: the old generation at full size plus one new server — the first new-version voter is
 *   gated in while the old cluster is untouched (voters N+1);
 * - expand: both generations at full size (voters 2N), so the retire step starts with the most
 *   failure tolerance the cluster will ever have;
 * - retire: only the new generation; Terraform destroys the old group and its terminate hooks
 *   drain the old servers one at a time (voters 2N → N).
 *
 * With `rollout.abort` (canary or expand only): the old generation alone at full size — the new
 * group is destroyed and its servers drained, leadership handed to the old generation.
 */
export function stageLayout(config: RolloutConfig, stage: Stage): StagedGeneration[] {
  const full = config.serverCount;
  const { old: oldGeneration, new: newGeneration } = config.rollout;
  // Abort (before retire; the loader refuses it with retire): the old generation was never
  // touched, the new group is destroyed and its terminate hooks drain each new server.
  if (config.rollout.abort) return [{ role: 'old', generation: oldGeneration, desiredCapacity: full }];
  switch (stage) {
    case 'canary':
      return [
        { role: 'old', generation: oldGeneration, desiredCapacity: full },
        { role: 'new', generation: newGeneration, desiredCapacity: 1 },
      ];
    case 'expand':
      return [
        { role: 'old', generation: oldGeneration, desiredCapacity: full },
        { role: 'new', generation: newGeneration, desiredCapacity: full },
      ];
    case 'retire':
      return [{ role: 'new', generation: newGeneration, desiredCapacity: full }];
  }
}
