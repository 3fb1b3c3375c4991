export type { KubeObject, ObjectMeta } from './kube-object.js';
export { type Change, type ChangeType, type ResourceRef, Store, type StoreOptions } from './sqlite-store.js';
