// IPv4 addresses as numbers, for the arithmetic of ranges (service and pod CIDRs).

export function ipToInt(ip: string): number {
  return ip.split('.').reduce((n, o) => n * 256 + Number(o), 0);
}

/** Takes unsigned numbers and the signed ones bitwise masking makes (addresses from 128.0.0.0 up). */
export function intToIp(n: number): string {
  return [24, 16, 8, 0].map((s) => (n >>> s) & 255).join('.');
}
