import { describeApiEndToEnd, embeddedDeployment } from '@passage/testing';

// The shared suite (packages/testing/src/api-end-to-end-suite.ts) against the default: one process,
// SQLite catalog, embedded index, in-process queue. The scaled modes run it in their own files.
describeApiEndToEnd('embedded', embeddedDeployment);
