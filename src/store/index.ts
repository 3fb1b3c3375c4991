export { Store, type Change, type ChangeType, type ResourceRef, type StoreOptions } from './sqlite-store.js';
export type { KubeObject, ObjectMeta } from './kube-object.js';
