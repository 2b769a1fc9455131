import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * vitest's order (failed first, then longest first), except that
 * signals.test.ts runs last: after its interrupted imports, DynamoDB Local
 * never finishes building an index added to an existing table (seen stuck in
 * CREATING for 180 s), which the files that add indexes (list, tables-indexes,
 * outside-try) wait for. DynamoDB in AWS has no such state; the engine's is
 * not ours to fix, the order is.
 */
export default class ShopdbSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const last = (spec: TestSpecification) => /[/\\]signals\.test\.ts$/.test(spec.moduleId);
    return [...sorted.filter((spec) => !last(spec)), ...sorted.filter(last)];
  }
}
