"""Runs moto_server with three fixes for what our stacks need and moto 5 gets wrong.

1. Launch template versions. CreateLaunchTemplateVersion stores LaunchTemplateData.UserData as
the raw string, where CreateLaunchTemplate stores it parsed (moto's Base64EncodedString). Any
launch from such a version — an Auto Scaling group raising its capacity after its template got a
new version — then fails moto's own assertion, the API answers HTTP 500, and the provider retries
the UpdateAutoScalingGroup call with backoff until its timeout: `tofu apply` of `expand` looked
like it "waits for capacity" forever. AWS accepts user data in a new version exactly as in the
first, so the fix parses it the same way (an invalid base64 string is refused as by
CreateLaunchTemplate).

2. Queue policies. moto's SetQueueAttributes erases a queue's Policy whenever the call does not
repeat it, so updating any other attribute (the provider updates RedrivePolicy alone) silently
deletes the policy, and the next plan re-creates the aws_sqs_queue_policy. AWS changes only the
attributes a call names; so does this.

3. The instance lifecycle policy, which moto does not model at all. The policy (UpdateAutoScalingGroup's InstanceLifecyclePolicy, echoed by
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
from moto.ec2.models.launch_templates import LaunchTemplate
from moto.ec2.utils import parse_user_data
from moto.server import main
from moto.sqs.models import Queue

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

_create_version = LaunchTemplate.create_version


def create_version(self, data, description):
    if isinstance(data.get("UserData"), str):
        data = {**data, "UserData": parse_user_data(data["UserData"])}
    return _create_version(self, data, description)


LaunchTemplate.create_version = create_version

_set_queue_attributes = Queue._set_attributes


def set_queue_attributes(self, attributes, now=None):
    kept = getattr(self, "policy", None)
    _set_queue_attributes(self, attributes, now)
    if "Policy" not in attributes:
        self.policy = kept


Queue._set_attributes = set_queue_attributes

if __name__ == "__main__":
    main(sys.argv[1:])
