// virtmesh's cluster DNS: the records of Services and Endpoints, and the server answering them.

export type { Upstream } from './forward.js';
export { CLUSTER_DNS_TTL, type ClusterDnsIndex, type ClusterDnsIndexOptions, type ClusterDnsResult, createClusterDnsIndex } from './records.js';
export { readHostResolvers } from './resolv-conf.js';
export { type DnsServer, type DnsServerOptions, startDnsServer } from './server.js';
