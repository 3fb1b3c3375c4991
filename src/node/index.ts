// The node agent: pod sandboxes, service addresses and the VMs of node01.

export { cleanUpNode, type NodeAgent, type NodeAgentConfig, startNodeAgent } from './agent.js';
export { type ExternalStandIn, parseStandInNames, standInAddress, startExternalStandIn } from './external-stand-in.js';
export { intToIp, ipToInt, killNetnsProcesses, type NodeNetwork, nodeNetwork, sandboxNames, sweepClusterNetwork } from './net.js';
export { removeHostRules } from './rules.js';
export { parseUplink, resolveUplinkInterface, startUplink, type Uplink, type UplinkSetting, uplinkText } from './uplink.js';
