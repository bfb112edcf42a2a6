export { snapshotWorkflow } from './snapshot';
export { volumeSnapshotWorkflow } from './volume-snapshot';
export { catalogWorkflow } from './catalog';
export { restoreWorkflow, verifyWorkflow } from './restore';
export { syncWorkflow } from './sync';
export { drillWorkflow } from './drill';
export { notifyWorkflow } from './notify';
export { recoveryPointCheckWorkflow } from './recovery-point';
