// Semantic validation and defaulting: what kube-apiserver's built-in validation and the
// validating/mutating webhooks of KubeVirt, Istio and Multus check and fill in. Schema-level
// checks (unknown fields, JSON types) happen before, in ../schema.

import { validateNamespace, validatePod, validateService } from './core.js';
import { validateConfigMap, validateEndpointSlice, validateEndpoints, validateEvent, validateSecret } from './core-misc.js';
import type { FieldError } from './field-errors.js';
import { validateVirtualService } from './istio.js';
import { ISTIO_WEBHOOK } from './istio-common.js';
import { validateDestinationRule, validateServiceEntry, validateSidecar } from './istio-rules.js';
import { validateAuthorizationPolicy, validatePeerAuthentication } from './istio-security.js';
import { vmiValidator, vmValidator } from './kubevirt.js';
import { NAD_WEBHOOK, validateNetworkAttachmentDefinition } from './nad.js';
import type { AdmissionContext, KubeObject, SemanticValidator } from './types.js';

export { applyDefaults } from './defaults.js';
export { type FieldError, fieldError, fieldErrorBody, fieldErrorMessage } from './field-errors.js';
export { VM_WEBHOOK, VMI_WEBHOOK } from './kubevirt.js';
export { ISTIO_MASQUERADE_ONLY, isMeshed } from './kubevirt-network.js';
export { type NameRule, validateObjectMeta } from './meta.js';
export { parseQuantity } from './quantity.js';
export type { AdmissionContext, KubeObject, Operation, SemanticValidator } from './types.js';
export { ISTIO_WEBHOOK, NAD_WEBHOOK };

const builtIn = (validate: (o: KubeObject, ctx: AdmissionContext) => FieldError[]): SemanticValidator => ({ validate });
const webhook = (name: string, validate: (o: KubeObject, ctx: AdmissionContext) => FieldError[]): SemanticValidator => ({
  webhook: name,
  validate,
});
/** Istio's webhook checks configuration on create and update; deletes pass. */
const istio = (validate: (o: KubeObject) => FieldError[]) => webhook(ISTIO_WEBHOOK, (o, ctx) => (ctx.operation === 'DELETE' ? [] : validate(o)));

const registry: Record<string, SemanticValidator[]> = {
  '/Service': [builtIn(validateService)],
  '/Pod': [builtIn(validatePod)],
  '/Namespace': [builtIn(validateNamespace)],
  '/ConfigMap': [builtIn(validateConfigMap)],
  '/Secret': [builtIn(validateSecret)],
  // ServiceAccounts have no checks beyond their metadata (validateObjectMeta).
  '/ServiceAccount': [],
  '/Endpoints': [builtIn(validateEndpoints)],
  'discovery.k8s.io/EndpointSlice': [builtIn(validateEndpointSlice)],
  '/Event': [builtIn(validateEvent)],
  'k8s.cni.cncf.io/NetworkAttachmentDefinition': [webhook(NAD_WEBHOOK, validateNetworkAttachmentDefinition)],
  'kubevirt.io/VirtualMachineInstance': [vmiValidator],
  'kubevirt.io/VirtualMachine': [vmValidator],
  'networking.istio.io/VirtualService': [istio(validateVirtualService)],
  'networking.istio.io/DestinationRule': [istio(validateDestinationRule)],
  'networking.istio.io/ServiceEntry': [istio(validateServiceEntry)],
  'networking.istio.io/Sidecar': [istio(validateSidecar)],
  'security.istio.io/PeerAuthentication': [istio(validatePeerAuthentication)],
  'security.istio.io/AuthorizationPolicy': [istio(validateAuthorizationPolicy)],
};

/** Checks for a kind, keyed `${group}/${kind}` ("" group for core: "/Service"). */
export function validatorsFor(group: string, kind: string): SemanticValidator[] {
  return registry[`${group}/${kind}`] ?? [];
}
