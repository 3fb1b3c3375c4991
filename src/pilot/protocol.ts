// The discovery protocol between the control plane and its proxies: xDS's state
// machine (DiscoveryRequest/DiscoveryResponse, per type a version and a nonce,
// ACK = a request echoing the response's nonce with its version, NACK = the nonce
// with the previous version and errorDetail) carried as newline-delimited JSON over
// one TCP connection per proxy instead of gRPC streams of protobuf Any.

import type { ProxyNode, TypeUrl } from '../proxy/config.js';

/** Port the control plane serves discovery on (istiod's plaintext xDS port). */
export const XDS_PORT = 15010;
/** Port of the control plane's debug HTTP endpoints (istiod's monitoring/debug port). */
export const DEBUG_PORT = 15014;

export interface DiscoveryRequest {
  /** Sent on the first request of a connection (Envoy sends it on the first request of a stream). */
  node?: ProxyNode;
  typeUrl: TypeUrl;
  /** The version the proxy has applied for this type ("" before any). */
  versionInfo: string;
  /** The nonce of the response this request answers ("" for a subscription). */
  responseNonce: string;
  /** Present on a NACK: why the proxy rejected the response. */
  errorDetail?: { code: number; message: string };
  resourceNames?: string[];
}

export interface DiscoveryResponse<T = unknown> {
  typeUrl: TypeUrl;
  versionInfo: string;
  nonce: string;
  resources: T[];
}
