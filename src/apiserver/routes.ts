// Maps a request path onto the API: discovery documents or a resource request
// (group, version, resource, namespace, name, subresource), as kube-apiserver lays them out.

import { findByPlural, type ResourceDef } from './resources.js';
import { status } from './status.js';

export interface ResourceRoute {
  def: ResourceDef;
  version: string;
  namespace?: string;
  name?: string;
  subresource?: string;
  /** The legacy `/watch/` path prefix. */
  watchPrefix: boolean;
}

export function parseResourcePath(segments: string[]): ResourceRoute | undefined {
  let group: string;
  let version: string;
  let rest: string[];
  if (segments[0] === 'api' && segments.length >= 3) {
    group = '';
    version = segments[1];
    rest = segments.slice(2);
  } else if (segments[0] === 'apis' && segments.length >= 4) {
    group = segments[1];
    version = segments[2];
    rest = segments.slice(3);
  } else return undefined;
  let watchPrefix = false;
  if (rest[0] === 'watch') {
    watchPrefix = true;
    rest = rest.slice(1);
  }
  let namespace: string | undefined;
  // /namespaces/<ns>/<resource>/... is a namespaced resource; /namespaces/<name>[/status] is a Namespace.
  if (rest[0] === 'namespaces' && rest.length >= 3 && !['status', 'finalize'].includes(rest[2])) {
    namespace = rest[1];
    rest = rest.slice(2);
  }
  const [plural, name, subresource, ...extra] = rest;
  if (extra.length > 0) return undefined;
  const def = findByPlural(group, version, plural);
  if (!def) return undefined;
  if (namespace !== undefined && !def.namespaced) return undefined;
  if (
    subresource !== undefined &&
    !(
      (subresource === 'status' && def.status) ||
      (subresource === 'log' && def.logs && !watchPrefix) ||
      (subresource === 'binding' && def.logs && !watchPrefix)
    )
  ) {
    throw status.pageNotFound();
  }
  return { def, version, namespace, name: name === undefined ? undefined : decodeName(name), subresource, watchPrefix };
}

function decodeName(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw status.badRequest(`invalid resource name in the request path: ${JSON.stringify(raw)}`);
  }
}
