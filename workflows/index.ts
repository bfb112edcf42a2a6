export { snapshotWorkflow } from './snapshot';
export { volumeSnapshotWorkflow } from './volume';
export { catalogWorkflow } from './catalog';
