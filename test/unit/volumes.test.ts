// Pure rules of volume snapshots: names, labels, the sanitized PVC spec, class choice, per-PVC planning, aggregation.
import { strict as assert } from 'node:assert';
import type * as k8s from '@kubernetes/client-node';
import { DEFAULT_CLASS_ANNOTATION, SNAPSHOT_CLASS_LABEL, chooseSnapshotClass, labelValueFor, planVolume, sanitizePvcSpec, volumeSnapshotManifest, volumeSnapshotNameFor, type VolumeSnapshotClass } from '../../lib/kube/csi';
import type { VolumeResult } from '../../contracts/definitions';
import { aggregateVolumes } from '../../workflows/status';

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

function snapshotClass(name: string, driver: string, isDefault = false): VolumeSnapshotClass {
  return { metadata: { name, annotations: isDefault ? { [DEFAULT_CLASS_ANNOTATION]: 'true' } : {} }, driver, deletionPolicy: 'Delete' };
}

function pvc(name: string, opts: { bound?: boolean; classLabel?: string } = {}): k8s.V1PersistentVolumeClaim {
  const bound = opts.bound ?? true;
  return {
    metadata: { name, namespace: 'team-a', uid: 'uid-1', resourceVersion: '7', labels: opts.classLabel ? { [SNAPSHOT_CLASS_LABEL]: opts.classLabel } : {} },
    spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } }, storageClassName: 'fast', volumeMode: 'Filesystem', ...(bound ? { volumeName: `pv-${name}` } : {}) },
    status: { phase: bound ? 'Bound' : 'Pending' },
  };
}

function csiVolume(name: string, driver: string): k8s.V1PersistentVolume {
  return { metadata: { name }, spec: { capacity: { storage: '1Gi' }, csi: { driver, volumeHandle: `handle-${name}` } } };
}

describe('volume snapshot naming', () => {
  it('is <pvc>-<snapshot>, lowercased into a DNS subdomain', () => {
    const name = volumeSnapshotNameFor('data-0', 'demo-2026-11-23T12-00-00Z');
    assert.equal(name, 'data-0-demo-2026-11-23t12-00-00z');
    assert.match(name, DNS_SUBDOMAIN);
  });

  it('truncates long names to 253 characters with a hash that keeps them distinct', () => {
    const long = `${'a'.repeat(120)}.${'b'.repeat(120)}`;
    const first = volumeSnapshotNameFor(long, 'demo-2026-11-23T12-00-00Z');
    const second = volumeSnapshotNameFor(long, 'demo-2026-11-23T13-00-00Z');
    assert.ok(first.length <= 253 && first.length > 240);
    assert.match(first, DNS_SUBDOMAIN);
    assert.notEqual(first, second);
    assert.equal(first, volumeSnapshotNameFor(long, 'demo-2026-11-23T12-00-00Z'));
  });

  it('never leaves a dot or dash before the hash', () => {
    const pvcName = `${'a'.repeat(241)}.b`;
    const name = volumeSnapshotNameFor(pvcName, 'x-2026-11-23T12-00-00Z');
    assert.ok(name.length <= 253);
    assert.match(name, DNS_SUBDOMAIN);
  });

  it('keeps short label values and hashes long ones to 63 characters', () => {
    assert.equal(labelValueFor('demo-2026-11-23T12-00-00Z'), 'demo-2026-11-23T12-00-00Z');
    const long = labelValueFor(`data-${'x'.repeat(100)}`);
    assert.equal(long.length, 63);
    assert.match(long, LABEL_VALUE);
    assert.notEqual(long, labelValueFor(`data-${'x'.repeat(101)}`));
  });

  it('labels the VolumeSnapshot with its snapshot and PVC and names its class and source', () => {
    const manifest = volumeSnapshotManifest({
      cluster: { name: 'demo', namespace: 'team-a' },
      snapshotName: 'demo-2026-11-23T12-00-00Z',
      volume: { pvc: 'data-0', namespace: 'team-a', driver: 'hostpath.csi.k8s.io', volumeSnapshotClass: 'csi-hostpath' },
    });
    assert.equal(manifest.metadata.namespace, 'team-a');
    assert.equal(manifest.metadata.labels?.['vcsnap.io/snapshot'], 'demo-2026-11-23T12-00-00Z');
    assert.equal(manifest.metadata.labels?.['vcsnap.io/pvc'], 'data-0');
    assert.deepEqual(manifest.spec, { source: { persistentVolumeClaimName: 'data-0' }, volumeSnapshotClassName: 'csi-hostpath' });
  });
});

describe('sanitized PVC spec', () => {
  it('keeps what a restore needs and drops binding, data sources and selectors', () => {
    const spec: k8s.V1PersistentVolumeClaimSpec = {
      accessModes: ['ReadWriteOnce'],
      resources: { requests: { storage: '5Gi' }, limits: { storage: '10Gi' } },
      storageClassName: 'fast',
      volumeMode: 'Block',
      volumeName: 'pv-123',
      dataSource: { kind: 'VolumeSnapshot', name: 'old', apiGroup: 'snapshot.storage.k8s.io' },
      selector: { matchLabels: { a: 'b' } },
    };
    assert.deepEqual(sanitizePvcSpec(spec), {
      accessModes: ['ReadWriteOnce'],
      resources: { requests: { storage: '5Gi' }, limits: { storage: '10Gi' } },
      storageClassName: 'fast',
      volumeMode: 'Block',
    });
  });

  it('omits absent fields and keeps an explicit empty storage class', () => {
    assert.deepEqual(sanitizePvcSpec(undefined), {});
    assert.deepEqual(sanitizePvcSpec({ storageClassName: '' }), { storageClassName: '' });
  });
});

describe('VolumeSnapshotClass choice', () => {
  const driver = 'hostpath.csi.k8s.io';
  const cases: Array<{ name: string; requested?: string; classes: VolumeSnapshotClass[]; expect: string | RegExp }> = [
    { name: 'the PVC label wins over the default', requested: 'special', classes: [snapshotClass('special', driver), snapshotClass('default', driver, true)], expect: 'special' },
    { name: 'the driver default', classes: [snapshotClass('other', 'other.csi'), snapshotClass('default', driver, true), snapshotClass('plain', driver)], expect: 'default' },
    { name: 'a default of another driver does not count', classes: [snapshotClass('other', 'other.csi', true)], expect: /^no VolumeSnapshotClass for CSI driver hostpath\.csi\.k8s\.io$/ },
    { name: 'a lone non-default class is not guessed', classes: [snapshotClass('plain', driver)], expect: /^no default VolumeSnapshotClass for CSI driver .* \(found plain\)/ },
    { name: 'two defaults are ambiguous', classes: [snapshotClass('b', driver, true), snapshotClass('a', driver, true)], expect: /^2 VolumeSnapshotClasses are marked default .* \(a, b\)/ },
    { name: 'a labelled class that does not exist', requested: 'gone', classes: [snapshotClass('default', driver, true)], expect: /^VolumeSnapshotClass gone \(from label .*\) not found$/ },
    { name: 'a labelled class of another driver', requested: 'other', classes: [snapshotClass('other', 'other.csi')], expect: /is for driver other\.csi, but the volume uses hostpath\.csi\.k8s\.io$/ },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const choice = chooseSnapshotClass(c.requested, driver, c.classes);
      if (typeof c.expect === 'string') assert.deepEqual(choice, { className: c.expect });
      else assert.match((choice as { skipReason: string }).skipReason, c.expect);
    });
  }
});

describe('planning one PVC', () => {
  const driver = 'hostpath.csi.k8s.io';
  const classes = [snapshotClass('csi-hostpath', driver, true)];

  it('plans a bound CSI PVC with its driver, class and sanitized spec', () => {
    assert.deepEqual(planVolume(pvc('data'), csiVolume('pv-data', driver), classes), {
      pvc: 'data',
      namespace: 'team-a',
      driver,
      volumeSnapshotClass: 'csi-hostpath',
      pvcSpec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } }, storageClassName: 'fast', volumeMode: 'Filesystem' },
    });
  });

  it('skips unbound, missing, non-CSI and class-less volumes with distinct reasons', () => {
    const hostPath: k8s.V1PersistentVolume = { metadata: { name: 'pv-data' }, spec: { capacity: { storage: '1Gi' }, hostPath: { path: '/data' } } };
    const reasons = [
      planVolume(pvc('data', { bound: false }), undefined, classes).skipReason,
      planVolume(pvc('data'), undefined, classes).skipReason,
      planVolume(pvc('data'), hostPath, classes).skipReason,
      planVolume(pvc('data'), csiVolume('pv-data', 'other.csi'), classes).skipReason,
    ];
    assert.match(reasons[0] ?? '', /not bound .*phase Pending/);
    assert.match(reasons[1] ?? '', /PersistentVolume pv-data not found/);
    assert.match(reasons[2] ?? '', /not a CSI volume \(hostPath\)/);
    assert.match(reasons[3] ?? '', /no VolumeSnapshotClass for CSI driver other\.csi/);
    assert.equal(new Set(reasons).size, reasons.length);
  });
});

describe('volume aggregation', () => {
  const volume = (pvcName: string, phase: VolumeResult['phase'], reason?: string): VolumeResult => ({ pvc: pvcName, phase, reason });
  it('no PVCs or only skipped ones -> Completed', () => {
    assert.deepEqual(aggregateVolumes([]), { status: 'Completed' });
    assert.deepEqual(aggregateVolumes([volume('a', 'Skipped', 'not CSI')]), { status: 'Completed' });
  });
  it('some failed -> PartiallyFailed naming N of M and each reason; all failed -> Failed', () => {
    const partial = aggregateVolumes([volume('a', 'Completed'), volume('b', 'Failed', 'disk on fire'), volume('c', 'Skipped')]);
    assert.equal(partial.status, 'PartiallyFailed');
    assert.match(partial.reason ?? '', /^1 of 2 volume snapshots failed: b: disk on fire$/);
    assert.equal(aggregateVolumes([volume('a', 'Failed', 'x'), volume('b', 'Failed', 'y')]).status, 'Failed');
  });
});
