// The files that make virtmesh's built-in guest: /init, the DHCP hook, the user
// helpers and /etc. Their text is part of the build recipe: any change here gives a
// new recipe version, so cached images are rebuilt.
// Shell inside template literals: `\${` is a literal `${`, `\\` a literal backslash.

import { REAL_TOOLS_ARCHIVE, REAL_TOOLS_READY } from './guest-tools.js';

export type GuestFlavor = 'fedora' | 'cirros' | 'alpine';

/** The user a flavour's image logs in with, as in the images KubeVirt's demos use. */
export const DEFAULT_USERS: Record<GuestFlavor, { user: string; password?: string }> = {
  fedora: { user: 'fedora' },
  cirros: { user: 'cirros', password: 'gocubsgo' },
  alpine: { user: 'root' },
};

export function defaultUserForFlavor(flavor: GuestFlavor): string {
  return DEFAULT_USERS[flavor].user;
}

/** Kernel modules the guest loads (plus their dependencies, found at build time). */
export const GUEST_MODULES = [
  'virtio_ring',
  'virtio',
  'virtio_pci_legacy_dev',
  'virtio_pci_modern_dev',
  'virtio_pci',
  'failover',
  'net_failover',
  'virtio_net',
  'virtio_blk',
  'isofs',
  'nls_utf8',
  // The ACPI power button as an input device: lets `system_powerdown` shut the guest down.
  'button',
  'evdev',
];

/** Name and path (in the seed) of the script the guest runs at boot: translated user-data. */
export const SEED_GUEST_SCRIPT = 'virtmesh-init.sh';

const init = `#!/bin/sh
# virtmesh built-in guest: PID 1 until it hands over to busybox init (which reaps orphans
# and respawns the login prompt). Shell builtins where possible: under TCG every new
# process costs tens of milliseconds.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs -o mode=0755 tmpfs /run
mount -t tmpfs -o mode=1777 tmpfs /tmp
exec </dev/console >/dev/console 2>&1

say() { echo "virtmesh-guest: $*"; }
now() { read -r UPTIME _ </proc/uptime; }

read -r cmdline </proc/cmdline
FLAVOR=fedora
for arg in $cmdline; do
  case "$arg" in virtmesh.flavor=*) FLAVOR="\${arg#virtmesh.flavor=}" ;; esac
done
case "$FLAVOR" in fedora|cirros|alpine) ;; *) say "unknown virtmesh.flavor=$FLAVOR, using fedora"; FLAVOR=fedora ;; esac
. /etc/virtmesh-release
read -r kernel </proc/sys/kernel/osrelease
now
say "booting virtmesh built-in guest, $FLAVOR flavour (kernel $kernel, image $VIRTMESH_IMAGE_VERSION, up $UPTIME s)"

# Under CPU emulation (TCG) QEMU keeps the code it translated by address: with address space
# randomization every start of a dynamically linked program (the shell, ncat, curl) is
# translated anew, which makes it two to three times slower. No kvm-clock means no KVM: randomization off.
read -r clocks </sys/devices/system/clocksource/clocksource0/available_clocksource
case " $clocks " in
  *" kvm-clock "*) ;;
  *) echo 0 >/proc/sys/kernel/randomize_va_space && say "CPU emulated (no KVM): address space randomization off, so that programs start faster" ;;
esac

while read -r module; do
  insmod "/lib/modules/$module.ko" || say "cannot load kernel module $module"
done </lib/modules/load-order

# The flavour's users and login banner, as in the images KubeVirt's demos use.
cp -a "/etc/virtmesh/$FLAVOR/." /etc/
ip link set lo up

# NoCloud seed: an iso9660 filesystem labelled cidata, on a virtio disk.
SEED=
INSTANCE_ID=
name=localhost
dev="$(findfs LABEL=cidata 2>/dev/null || findfs LABEL=CIDATA 2>/dev/null)"
case "$dev" in
  /dev/vd*)
    mkdir -p /mnt/cidata
    if mount -t iso9660 -o ro "$dev" /mnt/cidata; then SEED=/mnt/cidata; fi
    ;;
esac
if [ -n "$SEED" ]; then
  while IFS= read -r line || [ -n "$line" ]; do
    value="\${line#*:}"
    value="\${value#"\${value%%[![:space:]]*}"}"
    value="\${value%"\${value##*[![:space:]]}"}"
    case "$value" in \\"*\\"|\\'*\\') value="\${value#?}"; value="\${value%?}" ;; esac
    case "$line" in instance-id:*) INSTANCE_ID="$value" ;; local-hostname:*) name="$value" ;; esac
  done <"$SEED/meta-data"
  say "NoCloud seed on $dev (instance-id $INSTANCE_ID, hostname $name)"
else
  say "no NoCloud seed (iso9660 labelled cidata) on /dev/vd*"
fi
hostname "$name"
echo "$name" >/etc/hostname
printf '127.0.0.1\\tlocalhost\\n::1\\tlocalhost ip6-localhost ip6-loopback\\n127.0.1.1\\t%s\\n' "$name" >/etc/hosts

if [ -e /sys/class/net/eth0 ]; then
  ip link set eth0 up
  # Waits for the first lease (the hook prints it), then stays in the background to renew it.
  udhcpc -i eth0 -s /usr/share/udhcpc/default.script -t 10 -T 1 -A 5 -b -p /run/udhcpc.eth0.pid \\
    -O search -O mtu -x hostname:"$name" >>/var/log/udhcpc.log 2>&1
  [ -s /run/net.eth0 ] || say "eth0: no DHCP lease yet, still asking in the background"
else
  say "no network interface eth0"
fi

# The real curl and ncat, which the small /usr/bin/curl and nc hand over to, come packed with
# the libraries only they load: unpacked now, in the background (1-3 s under TCG),
# with the root filesystem's limit (a share of the memory free at boot) raised to make room.
(
  read -r kb <${REAL_TOOLS_ARCHIVE}.kb
  while read -r _ mnt type opts _; do
    [ "$mnt $type" = "/ rootfs" ] && size="\${opts##*size=}" && size="\${size%%k*}"
  done </proc/mounts
  [ -n "$size" ] && mount -o remount,size=$((size + kb))k /
  cd / && zcat ${REAL_TOOLS_ARCHIVE} | cpio -idu 2>/dev/null && rm -f ${REAL_TOOLS_ARCHIVE} ${REAL_TOOLS_ARCHIVE}.kb
  : >${REAL_TOOLS_READY}
) &

if [ -n "$SEED" ] && [ -f "$SEED/${SEED_GUEST_SCRIPT}" ]; then
  say "running user-data"
  (
    cd /
    export INSTANCE_ID HOME=/root
    setsid /bin/sh "$SEED/${SEED_GUEST_SCRIPT}" </dev/null
    status=$?
    now
    say "user-data finished with exit status $status, up $UPTIME s"
  ) &
fi
exec /sbin/init
`;

// udhcpc's event hook: address, default route, MTU, DNS servers and search list.
const udhcpcScript = `#!/bin/sh
event="$1"
case "$event" in
  deconfig)
    ip -4 addr flush dev "$interface"
    ip link set "$interface" up
    ;;
  bound|renew)
    [ -n "$mtu" ] && ip link set dev "$interface" mtu "$mtu"
    prefix="$mask"
    [ -n "$prefix" ] || prefix=24
    if ! ip -4 addr show dev "$interface" | grep -q " $ip/$prefix "; then
      ip -4 addr flush dev "$interface"
      ip addr add "$ip/$prefix" \${broadcast:+broadcast "$broadcast"} dev "$interface"
    fi
    gateway=
    if [ -n "$router" ]; then
      set -- $router
      gateway="$1"
      while ip route del default dev "$interface" 2>/dev/null; do :; done
      ip route add default via "$gateway" dev "$interface"
    fi
    {
      [ -n "$search" ] && echo "search $search"
      [ -z "$search" ] && [ -n "$domain" ] && echo "search $domain"
      for server in $dns; do echo "nameserver $server"; done
    } >/etc/resolv.conf
    echo "$ip/$prefix" >/run/net.$interface
    if [ "$event" = bound ]; then
      read -r uptime </proc/uptime
      echo "virtmesh-guest: $interface $ip/$prefix\${gateway:+ via $gateway}\${dns:+, dns $dns} (up \${uptime%% *} s)" >/dev/console
    fi
    ;;
  leasefail|nak)
    ;;
esac
exit 0
`;

// busybox has no chpasswd or adduser; these two keep the usual command lines working.
const chpasswd = `#!/bin/sh
# chpasswd: reads user:password lines; -e means the passwords are already hashed.
encrypted=
case "$1" in -e|--encrypted) encrypted=1 ;; esac
status=0
while IFS= read -r line || [ -n "$line" ]; do
  [ -n "$line" ] || continue
  user="\${line%%:*}"
  pass="\${line#*:}"
  virtmesh-adduser "$user" || { status=1; continue; }
  if [ -n "$encrypted" ]; then hash="$pass"; else hash="$(printf '%s\\n' "$pass" | mkpasswd -m sha512 -P 0)" || { status=1; continue; }; fi
  days=$(($(date +%s) / 86400))
  awk -F: -v OFS=: -v u="$user" -v h="$hash" -v d="$days" '$1 == u { $2 = h; $3 = d } { print }' /etc/shadow >/etc/shadow.new &&
    cat /etc/shadow.new >/etc/shadow && rm -f /etc/shadow.new
done
exit $status
`;

const addUser = `#!/bin/sh
# virtmesh-adduser NAME: creates NAME (uid from 1000 up, a group of its own, a home) unless it exists.
name="$1"
case "$name" in ''|-*|*[!a-z0-9_.-]*) echo "virtmesh-adduser: invalid user name '$name'" >&2; exit 1 ;; esac
grep -q "^$name:" /etc/passwd && exit 0
uid=$(awk -F: 'BEGIN { m = 999 } $3 >= 1000 && $3 < 60000 && $3 > m { m = $3 } END { print m + 1 }' /etc/passwd)
echo "$name:x:$uid:$uid::/home/$name:/bin/sh" >>/etc/passwd
echo "$name:x:$uid:" >>/etc/group
echo "$name:!:$(($(date +%s) / 86400)):0:99999:7:::" >>/etc/shadow
mkdir -p "/home/$name"
chown "$uid:$uid" "/home/$name"
chmod 700 "/home/$name"
`;

const issue = (flavor: GuestFlavor): string => {
  const head = `virtmesh built-in guest (${flavor} flavour)\nKernel \\r on an \\m (\\l)\n\n`;
  if (flavor === 'cirros') return `${head}login as 'cirros' user. default password: 'gocubsgo'.\n\n`;
  if (flavor === 'alpine') return `${head}login as 'root' (no password).\n\n`;
  return `${head}login as 'fedora' (the password comes from cloud-init user-data).\n\n`;
};

/** /etc/passwd, group and shadow of a flavour: root, and its default user as uid 1000. */
function userDatabase(flavor: GuestFlavor, hashPassword: (password: string) => string): Array<[string, string, number]> {
  const { user, password } = DEFAULT_USERS[flavor];
  const day = 19000;
  const shadowOf = (pw: string | undefined) => (pw === undefined ? '!' : pw === '' ? '' : hashPassword(pw));
  const root = user === 'root' ? shadowOf(password ?? '') : '!';
  let passwd = 'root:x:0:0:root:/root:/bin/sh\n';
  let group = 'root:x:0:\ntty:x:5:\n';
  let shadow = `root:${root}:${day}:0:99999:7:::\n`;
  if (user !== 'root') {
    passwd += `${user}:x:1000:1000::/home/${user}:/bin/sh\n`;
    group += `wheel:x:10:${user}\n${user}:x:1000:\n`;
    shadow += `${user}:${shadowOf(password)}:${day}:0:99999:7:::\n`;
  }
  passwd += 'nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n';
  group += 'nogroup:x:65534:\n';
  shadow += `nobody:!:${day}:0:99999:7:::\n`;
  return [
    ['passwd', passwd, 0o644],
    ['group', group, 0o644],
    ['shadow', shadow, 0o600],
  ];
}

const profile = `export PATH=/usr/sbin:/usr/bin:/sbin:/bin
export PS1='[\\u@\\h \\W]\\$ '
alias ll='ls -l'
`;

const inittab = `ttyS0::respawn:/sbin/getty -L 115200 ttyS0 vt100
::respawn:/sbin/acpid -f -c /etc/acpi -l /var/log/acpid.log
::ctrlaltdel:/sbin/reboot
::shutdown:/bin/umount -a -r
`;

// busybox acpid runs /etc/acpi/PWRF/00000080 for the power button.
const powerButton = `#!/bin/sh
echo "virtmesh-guest: power button pressed, powering off" >/dev/console
poweroff
`;

export interface GuestFile {
  path: string;
  mode: number;
  text: string;
  /** Owner uid and gid (root when absent). */
  owner?: number;
  /** A directory rather than a file (text is ignored). */
  directory?: boolean;
}

/**
 * Text files of the image, without /etc/virtmesh-release (which names the build).
 * hashPassword makes a crypt(3) hash for /etc/shadow.
 */
export function guestFiles(hashPassword: (password: string) => string): GuestFile[] {
  const etc = (path: string, text: string, mode = 0o644): GuestFile => ({ path: `/etc/${path}`, mode, text });
  const flavors = Object.keys(DEFAULT_USERS) as GuestFlavor[];
  return [
    { path: '/init', mode: 0o755, text: init },
    { path: '/usr/share/udhcpc/default.script', mode: 0o755, text: udhcpcScript },
    { path: '/usr/sbin/chpasswd', mode: 0o755, text: chpasswd },
    { path: '/usr/sbin/virtmesh-adduser', mode: 0o755, text: addUser },
    etc('nsswitch.conf', 'passwd: files\ngroup: files\nshadow: files\nhosts: files dns\nnetworks: files\nservices: files\nprotocols: files\n'),
    etc('hosts', '127.0.0.1\tlocalhost\n'),
    etc('resolv.conf', ''),
    etc('shells', '/bin/sh\n/bin/ash\n/bin/bash\n'),
    etc('profile', profile),
    etc('inittab', inittab),
    etc('acpi/PWRF/00000080', powerButton, 0o755),
    // /init copies the flavour's set into /etc.
    ...flavors.flatMap((f) => [
      etc(`virtmesh/${f}/issue`, issue(f)),
      ...userDatabase(f, hashPassword).map(([name, text, mode]) => etc(`virtmesh/${f}/${name}`, text, mode)),
    ]),
    ...flavors
      .filter((f) => DEFAULT_USERS[f].user !== 'root')
      .map((f): GuestFile => ({ path: `/home/${DEFAULT_USERS[f].user}`, mode: 0o700, text: '', owner: 1000, directory: true })),
  ];
}
