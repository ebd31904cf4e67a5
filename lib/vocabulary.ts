/**
 * The words every layer shares, defined once: the lifecycle transitions Auto Scaling sends, the
 * results a lifecycle action ends with, and the tag keys the stack writes and everything else reads
 * (the handler, `doctor`, the plan review, the rehearsal). aws-cdk's lifecycle-hook.ts is the model:
 * `LifecycleTransition` and `DefaultResult` exist once and every caller imports them.
 */

/** The two lifecycle transitions, by the handler's name for them (`launch` gates, `terminate` drains). */
export const TRANSITIONS = {
  launch: 'autoscaling:EC2_INSTANCE_LAUNCHING',
  terminate: 'autoscaling:EC2_INSTANCE_TERMINATING',
} as const;

export type LifecycleKind = keyof typeof TRANSITIONS;
export type LifecycleTransition = (typeof TRANSITIONS)[LifecycleKind];

/** The EventBridge detail-types Auto Scaling emits for lifecycle actions, by kind. */
export const DETAIL_TYPES = {
  launch: 'EC2 Instance-launch Lifecycle Action',
  terminate: 'EC2 Instance-terminate Lifecycle Action',
} as const satisfies Record<LifecycleKind, string>;

/** CompleteLifecycleAction's LifecycleActionResult, and a hook's DefaultResult. */
export const LIFECYCLE_RESULTS = ['CONTINUE', 'ABANDON'] as const;
export type LifecycleResult = (typeof LIFECYCLE_RESULTS)[number];

/** Tag keys every server instance carries (propagated from its group). */
export const SERVER_TAG_KEYS = {
  /** Shared by all generations of a cluster: the cloud auto-join key. */
  cluster: 'consul-rollout:cluster',
  generation: 'consul-rollout:generation',
  consulVersion: 'consul-rollout:consul-version',
} as const;

/** The provider's default tag on every resource of a cluster's stack. */
export const STACK_TAG_KEY = 'consul-rollout:stack';

/** Tags the tooling writes itself; a user's extra tags may not use this prefix (nor "aws:"). */
export const TAG_PREFIX = 'consul-rollout:';
