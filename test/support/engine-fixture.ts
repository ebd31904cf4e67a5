/**
 * The Auto Scaling engine the lifecycle tests start from: a manual clock, one group carrying the
 * rollout's launch and terminate hooks, and every lifecycle notice the engine sends, in order.
 * A test changes only what it is about (a hook's timeout or default result, the sizes, a launcher).
 */
import {
  AutoScalingEngine,
  type GroupSpec,
  type InstanceLauncher,
  type LifecycleHookSpec,
  type LifecycleNotice,
} from '../../lib/rehearsal/auto-scaling-engine.ts';
import { TRANSITIONS } from '../../lib/vocabulary.ts';
import { ManualClock } from './manual-clock.ts';

export const GROUP = 'prod-consul-g1';

export const launchHook = (over: Partial<LifecycleHookSpec> = {}): LifecycleHookSpec => ({
  name: 'consul-launch-gate',
  transition: TRANSITIONS.launch,
  ...over,
});

export const drainHook = (over: Partial<LifecycleHookSpec> = {}): LifecycleHookSpec => ({
  name: 'consul-drain',
  transition: TRANSITIONS.terminate,
  ...over,
});

export interface EngineFixtureOptions {
  /** What differs from the default group: GROUP, 0..5 instances, none desired, both hooks. */
  readonly group?: Partial<GroupSpec>;
  readonly launcher?: InstanceLauncher;
  /** Sees each notice as it is sent, after it is recorded in `notices`. */
  readonly onLifecycleNotice?: (notice: LifecycleNotice) => void;
}

export function engineWithHooks(options: EngineFixtureOptions = {}) {
  const clock = new ManualClock();
  const notices: LifecycleNotice[] = [];
  const engine = new AutoScalingEngine({
    clock,
    ...(options.launcher === undefined ? {} : { launcher: options.launcher }),
    onLifecycleNotice: (notice) => {
      notices.push(notice);
      options.onLifecycleNotice?.(notice);
    },
  });
  const spec: GroupSpec = { name: GROUP, minSize: 0, maxSize: 5, desiredCapacity: 0, hooks: [launchHook(), drainHook()], ...options.group };
  const launched = engine.createGroup(spec);
  return { clock, engine, notices, launched };
}
