/** The AWS adapter: Auto Scaling lifecycle actions, EC2 addresses, SSM secrets. */
export { AwsLifecycleActions, isNoActiveLifecycleAction, type LifecycleApi } from './lifecycle-actions.ts';
export { findInstanceAddress, listTaggedInstanceAddresses, lookUpInstance, resolveInstanceAddress, type InstancesApi } from './instances.ts';
export { readConsulCaCertificate, readConsulToken, type ParametersApi } from './secrets.ts';
