// virtmesh's settings from the environment, read in this one place.

import { homedir } from 'node:os';
import { join } from 'node:path';

export interface CliConfig {
  /** Where the cluster keeps its state: database, certificates, kubeconfig, logs. */
  stateDir: string;
  apiserverPort: number;
  serviceCIDR: string;
}

export function readConfig(env: NodeJS.ProcessEnv = process.env): CliConfig {
  const stateHome = env.XDG_STATE_HOME || join(homedir(), '.local', 'state');
  return {
    stateDir: env.VIRTMESH_STATE_DIR || join(stateHome, 'virtmesh'),
    apiserverPort: env.VIRTMESH_APISERVER_PORT ? Number(env.VIRTMESH_APISERVER_PORT) : 6443,
    serviceCIDR: env.VIRTMESH_APISERVER_SERVICE_CIDR || '10.96.0.0/16',
  };
}
