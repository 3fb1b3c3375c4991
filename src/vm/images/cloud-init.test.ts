import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { walkthroughUserData } from '../../../test/helpers/cluster.js';
import { translateUserData, writeNoCloudSeed } from './cloud-init.js';

// The walkthrough's user-data for istio-vmi (fedora image) and its cirros client.
const ISTIO_VMI_USER_DATA = walkthroughUserData('istio-vmi.yaml');
const CIRROS_USER_DATA = walkthroughUserData('cirros-vmi.yaml');

const fedora = { user: 'fedora' };
let work: string;

before(() => {
  work = mkdtempSync(join(tmpdir(), 'virtmesh-cloud-init-test-'));
});
after(() => rmSync(work, { recursive: true, force: true }));

/**
 * Runs a translated script with the host's sh, in a scratch root: hostname, chpasswd and
 * chown are stubs that log their calls, so the host is left alone.
 */
function runOnHost(script: string): { out: string; calls: string; root: string } {
  const root = mkdtempSync(join(work, 'root-'));
  const stubs = join(root, 'stubs');
  mkdirSync(stubs);
  mkdirSync(join(root, 'etc'));
  for (const cmd of ['hostname', 'chpasswd', 'chown']) {
    const input = cmd === 'chpasswd' ? ' stdin=$(cat | tr "\\n" ";")' : '';
    writeFileSync(join(stubs, cmd), `#!/bin/sh\n${input ? `${input.trim()}\n` : ''}echo "${cmd} $*${input ? ' $stdin' : ''}" >>"$CALLS"\n`);
    chmodSync(join(stubs, cmd), 0o755);
  }
  const file = join(root, 'virtmesh-init.sh');
  writeFileSync(file, script);
  const calls = join(root, 'calls');
  writeFileSync(calls, '');
  const r = spawnSync('sh', [file], {
    cwd: root,
    encoding: 'utf8',
    timeout: 20_000,
    env: { ...process.env, PATH: `${stubs}:${process.env.PATH}`, VIRTMESH_GUEST_ROOT: root, CALLS: calls },
  });
  assert.equal(r.error, undefined);
  return { out: r.stdout + r.stderr, calls: readFileSync(calls, 'utf8'), root };
}

describe('translateUserData', () => {
  it('turns the walkthrough cloud-config into password and runcmd stages', () => {
    const script = translateUserData(ISTIO_VMI_USER_DATA, fedora);
    assert.match(script, /^#!\/bin\/sh\n/);
    assert.match(script, /printf %s 'fedora:fedora\n' \| chpasswd/);
    assert.doesNotMatch(script, /expire/); // expire: False, nothing to say
    // runcmd lines go into the runcmd script exactly as written, in order, after the password.
    const runcmd = script.slice(script.indexOf("<<'VIRTMESH_EOF'"));
    assert.ok(script.indexOf('chpasswd') < script.indexOf('scripts/runcmd'));
    assert.ok(runcmd.includes('dnf install -y screen nc\nwhile true ; do sh -c "nc -lp 8080 -c  \\"echo -e \'HTTP/1.1 200 OK\\n\\nHello\'\\" " ; done &\n'));
    assert.ok(runcmd.includes('while true ; do curl kubevirt.io >out 2>/dev/null ; sleep 1 ; done &\n'));
    assert.equal(spawnSync('sh', ['-n', '-c', script]).status, 0, 'valid sh syntax');
    const { calls } = runOnHost(script.replace(/^(dnf|while).*\n/gm, ''));
    assert.equal(calls, 'chpasswd  fedora:fedora;\n');
  });

  it('runs a #! user-data script as it is', () => {
    const script = translateUserData(CIRROS_USER_DATA, { user: 'cirros' });
    assert.ok(script.includes(`<<'VIRTMESH_EOF'\n${CIRROS_USER_DATA}VIRTMESH_EOF\n`));
    const { out } = runOnHost(translateUserData('#!/bin/sh\necho "user script ran as $0"\n', { user: 'cirros' }));
    assert.match(out, /user script ran as .*scripts\/part-001/);
  });

  it('keeps running runcmd after a failing line, and leaves background jobs running', () => {
    const marker = join(work, 'late-marker');
    const script = translateUserData(
      `#cloud-config\nruncmd:\n- no-such-command-here --flag\n- echo second line ran\n- exit 3\n- (sleep 0.5; echo late >${marker}) &\n`,
      fedora,
    );
    const { out } = runOnHost(script);
    assert.match(out, /no-such-command-here: (command )?not found/);
    assert.match(out, /second line ran/);
    assert.match(out, /runcmd exited with status 3/);
    // `exit 3` ends the script before its last line; now a job that does start.
    const bg = translateUserData(`#cloud-config\nruncmd:\n- 'false'\n- (sleep 2; echo late >${marker}) >/dev/null 2>&1 &\n- echo done\n`, fedora);
    assert.match(runOnHost(bg).out, /done/);
    assert.equal(existsSync(marker), false, 'the script ended without waiting for its background job');
    for (let i = 0; i < 50 && !existsSync(marker); i++) spawnSync('sleep', ['0.1']);
    assert.equal(readFileSync(marker, 'utf8'), 'late\n');
  });

  it('runs argv-list runcmd items quoted, like cloud-init', () => {
    const { out } = runOnHost(translateUserData(`#cloud-config\nruncmd:\n- [echo, "it's", "a b", 42]\n- echo plain $((1+2))\n`, fedora));
    assert.match(out, /it's a b 42\nplain 3\n/);
  });

  it('runs bootcmd before write_files, and writes files with encodings, permissions, append, owner and defer', () => {
    const dir = join(work, 'files');
    const gz = gzipSync(Buffer.from('zipped\n')).toString('base64');
    const script = translateUserData(
      `#cloud-config
bootcmd:
- test -e ${dir}/plain && echo "bootcmd saw the file" || echo "bootcmd ran first"
write_files:
- path: ${dir}/plain
  content: |
    line with 'quotes' and $dollar
  permissions: '0600'
- path: ${dir}/plain
  content: appended
  append: true
  permissions: '0600'
- path: ${dir}/b64
  encoding: b64
  content: aGVsbG8gd29ybGQ=
  permissions: 0750
- path: ${dir}/gz
  encoding: gz+b64
  content: ${gz}
- path: ${dir}/deferred
  content: later
  owner: fedora:fedora
  defer: true
runcmd:
- cat ${dir}/deferred
`,
      fedora,
    );
    assert.ok(script.indexOf(`${dir}/gz`) < script.indexOf(`${dir}/deferred`));
    const { out, calls } = runOnHost(script);
    assert.match(out, /bootcmd ran first/);
    assert.equal(readFileSync(join(dir, 'plain'), 'utf8'), "line with 'quotes' and $dollar\nappended");
    assert.equal(statSync(join(dir, 'plain')).mode & 0o777, 0o600);
    assert.equal(readFileSync(join(dir, 'b64'), 'utf8'), 'hello world');
    assert.equal(statSync(join(dir, 'b64')).mode & 0o777, 0o750);
    assert.equal(readFileSync(join(dir, 'gz'), 'utf8'), 'zipped\n');
    assert.equal(statSync(join(dir, 'gz')).mode & 0o777, 0o644);
    assert.match(out, /later/);
    assert.equal(calls, `chown fedora:fedora ${dir}/deferred\n`);
  });

  it('sets passwords from chpasswd users and list, hashed ones with -e, and notes expiry', () => {
    const hash = '$6$salt$abcdefghijklmnopqrstuv';
    const script = translateUserData(
      `#cloud-config
password: ignored-when-a-list-is-given
ssh_pwauth: true
chpasswd:
  users:
  - {name: alice, password: secret, type: text}
  - {name: bob, password: '${hash}', type: hash}
  list: |
    carol:pw2
`,
      fedora,
    );
    const { out, calls } = runOnHost(script);
    assert.equal(calls, `chpasswd  alice:secret;carol:pw2;\nchpasswd -e bob:${hash};\n`);
    assert.match(out, /ssh_pwauth: ignored, the built-in guest has no SSH server/);
    assert.match(out, /expire: not enforced/);
  });

  it('prints random passwords to the console, as cloud-init does', () => {
    const { out, calls } = runOnHost(translateUserData('#cloud-config\nchpasswd:\n  expire: false\n  users: [{name: fedora, type: RANDOM}]\n', fedora));
    const pw = /random' passwords: fedora:(\S+)/.exec(out)?.[1];
    assert.ok(pw && pw.length >= 12);
    assert.equal(calls, `chpasswd  fedora:${pw};\n`);
  });

  it('sets the hostname from hostname or fqdn', () => {
    const { calls, root } = runOnHost(translateUserData('#cloud-config\nfqdn: web.example.com\n', fedora));
    assert.equal(calls, 'hostname web\n');
    assert.equal(readFileSync(join(root, 'etc', 'hostname'), 'utf8'), 'web\n');
    assert.match(readFileSync(join(root, 'etc', 'hosts'), 'utf8'), /127\.0\.1\.1\tweb\.example\.com web\n/);
    assert.equal(translateUserData('#cloud-config\nhostname: x\npreserve_hostname: true\n', fedora), '');
  });

  it('warns about unknown keys and goes on', () => {
    const { out } = runOnHost(translateUserData('#cloud-config\ntimezone: UTC\npackages: [vim]\nruncmd: [echo still ran]\n', fedora));
    assert.match(out, /cloud-config key "timezone" is not supported by virtmesh's built-in guest; ignored/);
    assert.match(out, /packages: ignored, the built-in guest has no package manager/);
    assert.match(out, /still ran/);
  });

  it('returns nothing for empty user-data and says what it cannot use', () => {
    assert.equal(translateUserData('', fedora), '');
    assert.equal(translateUserData('  \n', fedora), '');
    assert.equal(translateUserData('#cloud-config\n', fedora), '');
    assert.match(runOnHost(translateUserData('just some text', fedora)).out, /neither #cloud-config nor #!; ignored/);
    assert.throws(() => translateUserData('Content-Type: multipart/mixed; boundary="x"\n', fedora), /multipart \(MIME\) user-data is not supported/);
  });

  it('rejects invalid cloud-config with the line of the error', () => {
    assert.throws(() => translateUserData('#cloud-config\nruncmd:\n  - a\n - b\n', fedora), /user-data is not valid YAML \(line 4, column \d+\)/);
    assert.throws(() => translateUserData('#cloud-config\n- a\n', fedora), /must be a YAML mapping/);
    assert.throws(() => translateUserData('#cloud-config\nruncmd: echo hi\n', fedora), /runcmd must be a list/);
    assert.throws(
      () => translateUserData('#cloud-config\nruncmd:\n- {a: 1}\n', fedora),
      /runcmd item 1 \({"a":1}\) must be a string or a list of strings; quote it/,
    );
    assert.throws(() => translateUserData('#cloud-config\nwrite_files:\n- content: x\n', fedora), /write_files item 1: path must be an absolute path/);
    assert.throws(() => translateUserData('#cloud-config\nwrite_files:\n- {path: /a, encoding: b64, content: "!!"}\n', fedora), /not valid base64/);
    assert.throws(() => translateUserData('#cloud-config\nwrite_files:\n- {path: /a, permissions: rw}\n', fedora), /octal mode/);
    assert.throws(() => translateUserData('#cloud-config\nhostname: bad_name\n', fedora), /not a valid host name/);
  });
});

describe('writeNoCloudSeed', () => {
  const readAt = (file: string, offset: number, length: number) => {
    const buf = Buffer.alloc(length);
    const fd = openSync(file, 'r');
    readSync(fd, buf, 0, length, offset);
    closeSync(fd);
    return buf.toString('latin1');
  };
  const isoFile = (iso: string, path: string) => spawnSync('isoinfo', ['-R', '-i', iso, '-x', path], { encoding: 'utf8' }).stdout;

  it('writes a standard NoCloud seed (volume id cidata) with the guest script beside it', async () => {
    const dir = join(work, 'seed');
    const script = translateUserData(ISTIO_VMI_USER_DATA, fedora);
    const iso = await writeNoCloudSeed({
      dir,
      userData: ISTIO_VMI_USER_DATA,
      networkData: 'version: 2\nethernets:\n  eth0:\n    dhcp4: true\n',
      metaData: { instanceId: 'default.istio-vmi', localHostname: 'istio-vmi' },
      guestScript: script,
    });
    assert.equal(iso, join(dir, 'seed.iso'));
    assert.equal(readAt(iso, 0x8001, 5), 'CD001');
    assert.equal(readAt(iso, 0x8028, 32).trimEnd(), 'cidata');
    const listing = spawnSync('isoinfo', ['-R', '-f', '-i', iso], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean).sort();
    assert.deepEqual(listing, ['/meta-data', '/network-config', '/user-data', '/virtmesh-init.sh']);
    assert.equal(isoFile(iso, '/user-data'), ISTIO_VMI_USER_DATA);
    assert.equal(isoFile(iso, '/meta-data'), 'instance-id: default.istio-vmi\nlocal-hostname: istio-vmi\n');
    assert.equal(isoFile(iso, '/virtmesh-init.sh'), script);
    assert.deepEqual(spawnSync('ls', [dir], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean), ['seed.iso'], 'only the ISO is left in the directory');
  });

  it('writes empty user-data and no guest script when there is none', async () => {
    const iso = await writeNoCloudSeed({ dir: join(work, 'seed-empty'), metaData: { instanceId: 'i', localHostname: 'vm' } });
    const listing = spawnSync('isoinfo', ['-R', '-f', '-i', iso], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean).sort();
    assert.deepEqual(listing, ['/meta-data', '/user-data']);
    assert.equal(isoFile(iso, '/user-data'), '');
  });

  it('rejects invalid user-data, network-config and host names', async () => {
    const metaData = { instanceId: 'i', localHostname: 'vm' };
    const dir = join(work, 'seed-bad');
    await assert.rejects(writeNoCloudSeed({ dir, metaData, userData: '#cloud-config\na: [\n' }), /user-data is not valid YAML \(line \d+/);
    await assert.rejects(writeNoCloudSeed({ dir, metaData, networkData: 'a: b: c\n' }), /network-config is not valid YAML \(line 1/);
    await assert.rejects(writeNoCloudSeed({ dir, metaData: { instanceId: 'i', localHostname: 'no_underscores' } }), /not a valid host name/);
  });
});
