// The `virtmesh` command: what kubevirtci, istioctl and virtctl do for a real cluster.

import { Command } from 'commander';
import { clusterDown, clusterStatus, clusterUp, kubeconfigPath, runForeground } from './cluster.js';
import { readConfig, VERSION } from './config.js';
import { vmConsole } from './console.js';
import { type DashboardOptions, dashboard } from './dashboard.js';
import { images } from './images.js';
import { registerMeshCommands } from './mesh.js';

const cfg = readConfig();
const program = new Command();

program
  .name('virtmesh')
  .description('Run virtual machines inside a service mesh, on one machine (KubeVirt + Istio + Kiali, embedded).')
  .version(VERSION)
  .showHelpAfterError();

const cluster = program.command('cluster').description("Start, stop and inspect the embedded cluster (like kubevirtci's cluster-up/cluster-down).");

cluster
  .command('up')
  .description('Start the embedded cluster in the background; does nothing if it is already running.')
  .option('--foreground', 'run the cluster in this process instead of as a background daemon')
  .action(async (o: { foreground?: boolean }) => (o.foreground ? runForeground(cfg) : clusterUp(cfg)));

cluster
  .command('down')
  .description('Stop every process of the cluster and remove everything it made.')
  .option('--keep-state', 'keep the state directory (objects, certificates, tokens) for the next `cluster up`')
  .action(async (o: { keepState?: boolean }) => clusterDown(cfg, Boolean(o.keepState)));

cluster
  .command('status')
  .description('Say whether the cluster is running, where, and whether its API server answers (exit code 3 when not running).')
  .action(async () => {
    if (!(await clusterStatus(cfg))) process.exitCode = 3;
  });

program
  .command('kubeconfig')
  .description("Print the path of the cluster's kubeconfig, for `export KUBECONFIG=$(virtmesh kubeconfig)`.")
  .action(() => {
    process.stdout.write(`${kubeconfigPath(cfg)}\n`);
  });

program
  .command('console')
  .description("Connect to a VirtualMachineInstance's serial console (like `virtctl console`); Ctrl+] leaves.")
  .argument('<vmi>', 'name of the VirtualMachineInstance')
  .option('-n, --namespace <namespace>', 'namespace of the VirtualMachineInstance', 'default')
  .action(async (name: string, o: { namespace: string }) => vmConsole(cfg, o.namespace, name));

program
  .command('images')
  .description('List the guest images that containerDisk names resolve to (built once, from Debian packages, into the image cache).')
  .option('--build', 'build the guest images now (otherwise the first VM builds them)')
  .action(async (o: { build?: boolean }) => images(cfg, Boolean(o.build)));

program
  .command('dashboard')
  .description('Say where the web console (kiali, the default) or Prometheus is, and open it when there is a display (like `istioctl dashboard`).')
  .argument('[which]', 'kiali (the virtmesh console) or prometheus', 'kiali')
  .option('--browser', 'open a browser (when there is a display)', true)
  .option('--no-browser', 'only print the address')
  .option('--prometheus <url>', "serve the console from this process against this Prometheus (e.g. a real Istio cluster's)")
  .option(
    '--kubeconfig <path>',
    "with --prometheus: read the cluster's objects from the API server this kubeconfig names (e.g. a real cluster's) instead of the local cluster",
  )
  .option('--context <name>', 'with --kubeconfig: the context to use instead of the current one')
  .option('-p, --port <port>', 'with --prometheus: the port to serve on (0 picks a free one)', '0')
  .option('--address <address>', 'with --prometheus: the address to serve on', '127.0.0.1')
  .action(async (which: string, o: DashboardOptions) => dashboard(cfg, which, o));

registerMeshCommands(program, cfg);

program.parseAsync(process.argv).catch((e: Error & { code?: string }) => {
  process.stderr.write(`error: ${e.message}\n`);
  process.exitCode = 1;
});
