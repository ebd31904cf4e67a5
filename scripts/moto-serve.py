"""Runs moto_server with fixes for what our stacks need and moto 5 gets wrong.

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

3. Queue redrive policies. moto returns RedrivePolicy re-serialized with spaces; AWS returns it
compact. The provider saw a change in every plan, which deferred the policy documents that read
the queue and cascaded into updates of the queue policy and the handler's role policy.

4. Launch template tags. moto copies CreateLaunchTemplate's request TagSpecifications (which tag
the template itself) into the template's LaunchTemplateData, so the provider read back a
"launch-template" tag specification it never set and updated every template — a new version,
whose latest_version then moved the groups' launch_template — in every plan. AWS keeps the two
apart; so does this.

5. Lambda logging configuration. moto drops a function's LoggingConfig (create and update), so
the provider planned to set it again in every plan. This keeps it and returns it as sent.

6. Security group rule descriptions. For a rule that references another security group, moto
keeps the description with the referenced group but reads it only from a CIDR range, so every
such rule came back without its description and was updated in every plan.

7. The instance lifecycle policy, which moto does not model at all. The policy
(UpdateAutoScalingGroup's InstanceLifecyclePolicy, echoed by DescribeAutoScalingGroups) is what keeps an instance whose drain was ABANDONed running in
Terminating:Retained. Every stack sets it at apply time through the AWS CLI and reads it back, so
`tofu apply` against plain moto fails on the read-back. This adds the attribute as the Auto Scaling
API reference describes it: InstanceLifecyclePolicy.RetentionTriggers.TerminateHookAbandon is
`retain` or `terminate`; anything else is a ValidationError; an update without the parameter leaves
the group's policy as it was. Retention itself (what happens on ABANDON) is modelled by the local
Auto Scaling engine, not here: moto runs no lifecycle actions.

Usage: python moto-serve.py --host 127.0.0.1 --port PORT   (the arguments of moto_server)
"""
import json
import sys

from moto.autoscaling.exceptions import ValidationError
from moto.autoscaling.models import FakeAutoScalingGroup
from moto.autoscaling.responses import AutoScalingResponse
from moto.awslambda.models import LambdaFunction
from moto.core.responses import ActionResult
from moto.ec2.models.launch_templates import LaunchTemplate
from moto.ec2.models.security_groups import SecurityGroupRule
from moto.ec2.responses.launch_templates import LaunchTemplates
from moto.ec2.utils import parse_user_data
from moto.server import main
from moto.sqs.models import Queue

# 7. The instance lifecycle policy.
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

# 1. User data of later launch template versions.
_create_version = LaunchTemplate.create_version


def create_version(self, data, description):
    if isinstance(data.get("UserData"), str):
        data = {**data, "UserData": parse_user_data(data["UserData"])}
    return _create_version(self, data, description)


LaunchTemplate.create_version = create_version

# 2. A queue's policy survives updates of its other attributes.
_set_queue_attributes = Queue._set_attributes


def set_queue_attributes(self, attributes, now=None):
    kept = getattr(self, "policy", None)
    _set_queue_attributes(self, attributes, now)
    if "Policy" not in attributes:
        self.policy = kept


Queue._set_attributes = set_queue_attributes

# 3. Redrive policies returned compact.
_queue_attributes = Queue.attributes.fget


def queue_attributes(self):
    result = _queue_attributes(self)
    if "RedrivePolicy" in result:
        result["RedrivePolicy"] = json.dumps(self.redrive_policy, separators=(",", ":"))
    return result


Queue.attributes = property(queue_attributes)


# 4. Request tags tag the launch template, not its data.
def create_launch_template(self):
    """moto 5.2's LaunchTemplates.create_launch_template without merging the request's tag
    specifications into the template data: they tag the launch template resource only."""
    name = self._get_param("LaunchTemplateName")
    version_description = self._get_param("VersionDescription")
    tag_spec = self._parse_tag_specification()
    template_data = self._get_param("LaunchTemplateData", {})
    template_data["UserData"] = parse_user_data(self._get_param("LaunchTemplateData.UserData"))
    self.error_on_dryrun()
    template = self.ec2_backend.create_launch_template(name, version_description, template_data, tag_spec)
    version = template.default_version()
    return ActionResult(
        {
            "LaunchTemplate": {
                "CreateTime": version.create_time,
                "CreatedBy": f"arn:{self.partition}:iam::{self.current_account}:root",
                "DefaultVersionNumber": template.default_version_number,
                "LatestVersionNumber": version.number,
                "LaunchTemplateId": template.id,
                "LaunchTemplateName": template.name,
                "Tags": template.tags,
            },
        }
    )


LaunchTemplates.create_launch_template = create_launch_template

# 5. Lambda logging configuration kept.
_lambda_init = LambdaFunction.__init__
_lambda_update_configuration = LambdaFunction.update_configuration
_lambda_get_configuration = LambdaFunction.get_configuration


def lambda_init(self, account_id, spec, region, version=1):
    _lambda_init(self, account_id, spec, region, version)
    self.logging_config = spec.get("LoggingConfig")


def lambda_update_configuration(self, config_updates):
    if "LoggingConfig" in config_updates:
        self.logging_config = config_updates["LoggingConfig"]
    return _lambda_update_configuration(self, config_updates)


def lambda_get_configuration(self, *args, **kwargs):
    config = _lambda_get_configuration(self, *args, **kwargs)
    if getattr(self, "logging_config", None):
        config["LoggingConfig"] = self.logging_config
    return config


LambdaFunction.__init__ = lambda_init
LambdaFunction.update_configuration = lambda_update_configuration
LambdaFunction.get_configuration = lambda_get_configuration

# 6. Descriptions of rules that reference a security group.
SecurityGroupRule.description = property(
    lambda self: self.ip_range.get("Description") or self.source_group.get("Description")
)

if __name__ == "__main__":
    main(sys.argv[1:])
