/** The advisory machine and its pure helpers: what services import from `machines/`. */
export * from './advisory.types.js';
export { createAdvisoryMachine, isFinalStage, stageOf, type AdvisoryMachine, type AdvisorySnapshot } from './advisory.machine.js';
export { ADVISOR_ID_PATTERN, describeError, toStepFailure } from './advisory.context.js';
export { redriveInputOf, redrivenContext, stageToRedrive } from './advisory.redrive.js';
export { RESTORABLE_MACHINE_VERSIONS, restoreAdvisorySnapshot, type RestoredAdvisory } from './advisory.snapshot.js';
export { AdvisoryInputError, IncompatibleSnapshotError } from './errors.js';
export { STATES_ALL, UNCATCHABLE_ERRORS, catches, errorMatches, nextRetry, policyProblems, retryDelayMs, type RetryDecision } from './retry.js';
export {
  aggregateRankings,
  agreementMatrix,
  bordaByMean,
  positionAgreement,
  deanonymise,
  labelAt,
  labelsFor,
  seededRandom,
  seededShuffle,
  type LabelMap,
} from './review.js';
