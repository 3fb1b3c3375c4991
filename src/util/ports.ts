// Ports on loopback for the cluster's own servers.

import { createServer } from 'node:net';

/** A free port on loopback (the wanted one when free; 0 asks for any). */
export async function freeLoopbackPort(wanted: number): Promise<number> {
  const tryPort = (port: number) =>
    new Promise<number | undefined>((resolve) => {
      const s = createServer();
      s.once('error', () => resolve(undefined));
      s.listen(port, '127.0.0.1', () => {
        const got = (s.address() as { port: number }).port;
        s.close(() => resolve(got));
      });
    });
  const port = (wanted ? await tryPort(wanted) : undefined) ?? (await tryPort(0));
  if (port === undefined) throw new Error('no free port on 127.0.0.1');
  return port;
}
