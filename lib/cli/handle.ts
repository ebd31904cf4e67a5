/**
 * `consul-rollout handle <event.json>`: what the lifecycle handler decides for one Auto Scaling
 * lifecycle event — `drain`, `gate`, `ignore` (with the reason) or `reject` (malformed input) —
 * with the normalized event. By default it contacts nothing. Given `--http-addr` (and no
 * `--dry-run`) it also runs the drain or gate against that Consul cluster, finding the server by
 * node meta `instance_id`; there is no Auto Scaling API here, so the lifecycle action is never
 * completed, and the output says so.
 */
import { readFileSync } from 'node:fs';
import { Command, Option } from 'clipanion';
import { describeAccess } from '../consul/access.ts';
import { describeError, UsageError } from '../errors.ts';
import { errorJson, terminalSafe } from './command.ts';
import { createClusterProcedures } from '../fleet/local/procedures.ts';
import {
  classifyEvent,
  parseEventText,
  type ClassifyPolicy,
  type Decision,
  type RejectDecision,
} from '../handlers/events.ts';
import { runProcedure } from '../handlers/handler.ts';
import { ClusterCommand, EXIT, parseList, type CommandOutcome } from './command.ts';

/** The decision for an event file. Never throws: an unreadable file or bad JSON is a `reject`. */
export function decideEventFile(path: string, policy: ClassifyPolicy): Decision {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    return {
      action: 'reject',
      message: `cannot read event file: ${(error as Error).message}`,
      remedy: 'pass the path of a file holding one lifecycle event as JSON',
    };
  }
  const parsed = parseEventText(text);
  return parsed.ok ? classifyEvent(parsed.raw, policy) : parsed.decision;
}

/**
 * `--managed-groups`: exact group names, or prefixes ending in `*` (`prod-consul-*`, as the Lambda
 * manages `<cluster>-*`). Without the flag every group is ours: the operator chose the event.
 */
export function managedGroupsPolicy(patterns: readonly string[] | undefined): ClassifyPolicy {
  if (patterns === undefined) return { managedGroups: () => true };
  return {
    managedGroups: (name) =>
      patterns.some((pattern) => (pattern.endsWith('*') ? name.startsWith(pattern.slice(0, -1)) : name === pattern)),
  };
}

/** What the handler would do after deciding, in words: the dry run's answer. */
export function describePlan(decision: Decision): string {
  switch (decision.action) {
    case 'drain':
      return (
        `drain ${decision.event.instanceId}: take the drain lock, wait for the quorum rule, transfer leadership if it leads, ` +
        'leave, confirm it is gone from Raft, then CompleteLifecycleAction CONTINUE'
      );
    case 'gate':
      return (
        `gate ${decision.event.instanceId}: wait until it is a healthy, stable Raft voter, then CompleteLifecycleAction ` +
        'CONTINUE (or ABANDON at the gate deadline)'
      );
    case 'ignore':
      return `nothing: ${decision.message}`;
    case 'reject':
      return 'nothing: the input is rejected';
  }
}

const NOT_COMPLETED =
  'not completed: the CLI has no AWS Auto Scaling API; on AWS the handler completes it, by hand use ' +
  '`aws autoscaling complete-lifecycle-action` with the event\'s group, hook and token';

export class HandleCommand extends ClusterCommand {
  static override paths = [['handle']];

  static override usage = Command.Usage({
    description: 'Decide what the lifecycle handler does with one Auto Scaling lifecycle event',
    details: `
      Reads one event as AWS delivers it — an EventBridge "EC2 Instance-launch/terminate Lifecycle Action", a Lambda SQS event with one record (EventBridge event or hook notification in the body), a lifecycle-hook notification body, or an \`autoscaling:TEST_NOTIFICATION\` — and prints the decision: \`drain\`, \`gate\`, \`ignore\` (with the reason) or \`reject\`, with the normalized event.

      By default nothing is contacted (a dry run). With \`--http-addr\` and without \`--dry-run\`, the drain or gate runs against that Consul cluster, the server found by its node meta \`instance_id\`; the lifecycle action is not completed (there is no Auto Scaling API here).

      Malformed input (not JSON, missing or mistyped fields, unknown detail-type, invalid instance id, unreadable file) exits 2 with one message on stderr; nothing is done.
    `,
    examples: [
      ['Print the decision for an event, contacting nothing', '$0 handle event.json --json'],
      ['Treat only one cluster\'s groups as managed', '$0 handle event.json --managed-groups "prod-consul-*" --json'],
      ['Drain or gate for real against a local cluster', '$0 handle event.json --http-addr 127.0.0.2:8500 --json'],
    ],
  });

  file = Option.String({ name: 'event.json' });

  dryRun = Option.Boolean('--dry-run', false, {
    description: 'Only decide; contact nothing (the default without --http-addr)',
  });

  managedGroups = Option.String('--managed-groups', {
    description: 'Comma-separated group names (or prefixes ending in *) this handler manages; others are ignored',
  });

  httpAddr = Option.String('--http-addr', {
    description: 'Comma-separated Consul server HTTP addresses: run the drain or gate against this cluster',
  });

  #rejected = false;

  override async execute(): Promise<number> {
    const code = await super.execute();
    // A malformed event is printed as a `reject` decision like any other, but it is bad input.
    return this.#rejected ? EXIT.usage : code;
  }

  async perform(): Promise<CommandOutcome> {
    // An empty --http-addr would otherwise mean "no cluster" deep inside the procedures.
    if (this.httpAddr !== undefined && this.httpAddr.trim() === '') {
      throw new UsageError('--http-addr is empty', { remedy: 'pass the Consul server addresses, e.g. --http-addr 10.0.1.10:8500, or drop the flag for a dry run' });
    }

    const policy = managedGroupsPolicy(
      this.managedGroups === undefined ? undefined : parseList('--managed-groups', this.managedGroups),
    );
    // Only --http-addr runs a procedure: CONSUL_HTTP_ADDR in the environment must not turn a dry run into a drain.
    const access = this.httpAddr === undefined ? undefined : this.consulAccess(this.httpAddr);
    const httpAddrs = access?.addresses;
    const decision = decideEventFile(this.file, policy);
    if (decision.action === 'reject') return this.#reject(decision);

    const plan = describePlan(decision);
    if (this.dryRun || httpAddrs === undefined || decision.action === 'ignore') {
      const dryRun = this.dryRun || httpAddrs === undefined;
      return {
        document: { decision, dryRun, plan },
        // An ignore's plan quotes the event (its group name): one escaped line, like the summary.
        text: `decision: ${summarize(decision)}\n${dryRun ? 'dry run, nothing contacted: ' : ''}${terminalSafe(plan, { oneLine: true })}`,
        ok: true,
      };
    }

    this.progress(`running the ${decision.action} of ${decision.event.instanceId} against ${describeAccess(access!)}`);
    const procedures = createClusterProcedures({
      httpAddrs,
      access,
      log: (record) => this.context.stderr.write(`${JSON.stringify(record)}\n`),
    });
    // Nothing to heartbeat (no lifecycle action is held here) and nothing aborts a CLI run but the
    // procedures' own deadlines.
    const run = await runProcedure(decision.event, procedures, { signal: new AbortController().signal, onWaiting: async () => {} });
    return {
      document: {
        decision,
        dryRun: false,
        plan,
        procedure: run,
        lifecycleAction: { completed: false, wouldCompleteWith: run.result, note: NOT_COMPLETED },
      },
      text:
        `decision: ${summarize(decision)}\n${decision.action}: ${run.procedure}${run.reason === undefined ? '' : ` (${run.reason})`}\n` +
        `lifecycle action ${NOT_COMPLETED}; the handler would complete it with ${run.result}`,
      // A gate that gave up is a failed check: the server is not a healthy voter.
      ok: run.procedure !== 'abandon',
    };
  }

  #reject(decision: RejectDecision): CommandOutcome {
    this.#rejected = true;
    // The message quotes values from the event: one line, no escape codes.
    const error = new UsageError(
      terminalSafe(decision.message, { oneLine: true }),
      decision.remedy === undefined ? {} : { remedy: terminalSafe(decision.remedy, { oneLine: true }) },
    );
    this.context.stderr.write(`consul-rollout: ${describeError(error)}\n`);
    // Bad input: nothing on stdout but, under --json, the error document (with the decision).
    return { document: { ...errorJson(error), decision, dryRun: true, plan: describePlan(decision) }, text: '', ok: false };
  }
}

/** One line per decision; every value from the event goes through terminalSafe. */
function summarize(decision: Exclude<Decision, RejectDecision>): string {
  const safe = (value: string) => terminalSafe(value, { oneLine: true });
  if (decision.action === 'ignore') return `ignore (${safe(decision.reason)})`;
  const { event } = decision;
  return `${decision.action} ${safe(event.instanceId)} (group ${safe(event.autoScalingGroupName)}, hook ${safe(event.lifecycleHookName)}, via ${safe(event.source)})`;
}
