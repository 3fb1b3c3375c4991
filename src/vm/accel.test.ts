// The accelerator decision with QEMU's outcomes simulated (what was seen on real
// machines: an MSR abort, a guest hanging at kvm-clock, no /dev/kvm), and its cache.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { cachedFindings, chooseAccelerator, type KvmTrial, parseAccelSetting, qemuLastWords } from './accel.js';

const MSR_ABORT =
  "qemu-system-x86_64: error: failed to set MSR 0x10a to 0x69\nqemu-system-x86_64: ../../target/i386/kvm/kvm.c:3183: kvm_buf_set_msrs: Assertion `ret == cpu->kvm_msr_buf->nmsrs' failed.\n";
const abort: KvmTrial = { cpu: 'host', booted: false, detail: qemuLastWords(MSR_ABORT) };
const hang = (cpu: string): KvmTrial => ({ cpu, booted: false, detail: 'the guest did not reach its init within 6 s' });
const boots = (cpu: string): KvmTrial => ({ cpu, booted: true });

describe('choosing the accelerator', () => {
  it('uses KVM with the host CPU when a guest boots with it', () => {
    const a = chooseAccelerator('auto', { device: 'present', trials: [boots('host'), boots('host,-arch-capabilities'), boots('qemu64')] });
    assert.deepEqual(a, { accel: 'kvm', cpu: 'host', summary: 'KVM (host CPU)' });
  });

  it('falls back to the next CPU model that boots, and says why the first did not', () => {
    const a = chooseAccelerator('auto', { device: 'present', trials: [abort, boots('host,-arch-capabilities'), boots('qemu64')] });
    assert.equal(a.accel, 'kvm');
    assert.equal(a.cpu, 'host,-arch-capabilities');
    assert.match(a.summary, /^KVM \(CPU model host,-arch-capabilities; -cpu host: error: failed to set MSR 0x10a to 0x69/);
  });

  it("takes TCG when /dev/kvm is there but no guest boots under it, with QEMU's own message", () => {
    const a = chooseAccelerator('auto', { device: 'present', trials: [abort, hang('host,-arch-capabilities'), hang('qemu64')] });
    assert.equal(a.accel, 'tcg');
    assert.equal(a.cpu, 'max');
    assert.match(a.summary, /^TCG: \/dev\/kvm present but a guest does not boot under it: -cpu host: error: failed to set MSR 0x10a to 0x69 \/ /);
    assert.match(a.summary, /-cpu qemu64: the guest did not reach its init within 6 s$/);
  });

  it('takes TCG without /dev/kvm, or with one that cannot be opened', () => {
    assert.deepEqual(chooseAccelerator('auto', { device: 'absent' }), { accel: 'tcg', cpu: 'max', summary: 'TCG: no /dev/kvm' });
    assert.equal(
      chooseAccelerator('auto', { device: 'unusable', error: 'EACCES: permission denied' }).summary,
      'TCG: /dev/kvm cannot be opened: EACCES: permission denied',
    );
  });

  it('VIRTMESH_VM_ACCEL=tcg never tries KVM; =kvm fails clearly where KVM cannot work', () => {
    assert.deepEqual(chooseAccelerator('tcg', undefined), { accel: 'tcg', cpu: 'max', summary: 'TCG (VIRTMESH_VM_ACCEL=tcg)' });
    assert.equal(chooseAccelerator('kvm', { device: 'present', trials: [boots('host')] }).accel, 'kvm');
    for (const findings of [{ device: 'absent' as const }, { device: 'present' as const, trials: [abort, hang('qemu64')] }]) {
      assert.throws(
        () => chooseAccelerator('kvm', findings),
        (e: Error & { code?: string }) => e.code === 'VM_ERR_CLUSTER_KVM_UNUSABLE' && /VIRTMESH_VM_ACCEL=kvm, but KVM cannot run a guest here/.test(e.message),
      );
    }
  });

  it('reads the setting: auto by default, a bad value refused', () => {
    assert.equal(parseAccelSetting(undefined), 'auto');
    assert.equal(parseAccelSetting(''), 'auto');
    assert.equal(parseAccelSetting('kvm'), 'kvm');
    assert.throws(
      () => parseAccelSetting('hvf'),
      (e: Error & { code?: string }) => e.code === 'VM_ERR_CLUSTER_BAD_ACCEL' && /"hvf" is not one of auto, kvm, tcg/.test(e.message),
    );
  });

  it("keeps QEMU's last stderr lines without its program name", () => {
    assert.equal(qemuLastWords('qemu-system-x86_64: -drive file=x: Could not open x\n\n'), '-drive file=x: Could not open x');
    assert.equal(qemuLastWords(''), '');
  });
});

describe('the probe cache', () => {
  const dir = mkdtempSync(join(tmpdir(), 'virtmesh-accel-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('probes once per key (host boot, QEMU version, guest image), again when the key changes', async () => {
    const file = join(dir, 'accelerator.json');
    let probes = 0;
    const probe = async () => {
      probes++;
      return [abort];
    };
    const first = await cachedFindings(file, 'boot-1 qemu-7.2 image-a', probe);
    const again = await cachedFindings(file, 'boot-1 qemu-7.2 image-a', probe);
    assert.deepEqual(again, first);
    assert.equal(probes, 1);
    assert.equal(JSON.parse(readFileSync(file, 'utf8')).key, 'boot-1 qemu-7.2 image-a');
    await cachedFindings(file, 'boot-2 qemu-7.2 image-a', probe);
    assert.equal(probes, 2, 'a new host boot probes again');
  });
});
