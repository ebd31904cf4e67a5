"""Runs moto_server with the one Auto Scaling feature our stacks set that moto 5 does not model.

The instance lifecycle policy (UpdateAutoScalingGroup's InstanceLifecyclePolicy, echoed by
DescribeAutoScalingGroups) is what keeps an instance whose drain was ABANDONed running in
Terminating:Retained. Every stack sets it at apply time through the AWS CLI and reads it back, so
`tofu apply` against plain moto fails on the read-back. This adds the attribute as the Auto Scaling
API reference describes it: InstanceLifecyclePolicy.RetentionTriggers.TerminateHookAbandon is
`retain` or `terminate`; anything else is a ValidationError; an update without the parameter leaves
the group's policy as it was. Retention itself (what happens on ABANDON) is modelled by the local
Auto Scaling engine, not here: moto runs no lifecycle actions.

Usage: python moto-serve.py --host 127.0.0.1 --port PORT   (the arguments of moto_server)
"""
import sys

from moto.autoscaling.exceptions import ValidationError
from moto.autoscaling.models import FakeAutoScalingGroup
from moto.autoscaling.responses import AutoScalingResponse
from moto.server import main

RETENTION_ACTIONS = ("retain", "terminate")

# Read by moto's serializer through the AutoScalingGroup shape's InstanceLifecyclePolicy member.
FakeAutoScalingGroup.instance_lifecycle_policy = None

_update_auto_scaling_group = AutoScalingResponse.update_auto_scaling_group


def update_auto_scaling_group(self):
    policy = self._get_param("InstanceLifecyclePolicy")
    if policy is not None:
        action = (policy.get("RetentionTriggers") or {}).get("TerminateHookAbandon")
        if action is not None and action not in RETENTION_ACTIONS:
            raise ValidationError(
                f"1 validation error detected: Value '{action}' at "
                "'instanceLifecyclePolicy.retentionTriggers.terminateHookAbandon' failed to satisfy "
                f"constraint: Member must satisfy enum value set: {list(RETENTION_ACTIONS)}"
            )
    result = _update_auto_scaling_group(self)
    if policy is not None:
        group = self.autoscaling_backend.autoscaling_groups[self._get_param("AutoScalingGroupName")]
        group.instance_lifecycle_policy = policy
    return result


AutoScalingResponse.update_auto_scaling_group = update_auto_scaling_group

if __name__ == "__main__":
    main(sys.argv[1:])
