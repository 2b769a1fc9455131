import { TransactionCanceledException, TransactionInProgressException, type CancellationReason } from '@aws-sdk/client-dynamodb';
import { TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { WholeNumber } from '../core/model.js';
import type { Dynamo } from './dynamo-client.js';

export type TransactItem = NonNullable<ConstructorParameters<typeof TransactWriteCommand>[0]['TransactItems']>[number];

const IN_PROGRESS_ATTEMPTS = 5;
const IN_PROGRESS_BACKOFF_MS = 200;

/** Cancellation codes the callers explain; any other (throttling, capacity) is a service error. */
const KNOWN_CANCELLATIONS = new Set(['None', 'ConditionalCheckFailed', 'TransactionConflict', 'ValidationError']);

/**
 * One transaction with a request token, rather than a plain write, because
 * the SDK resends a write whose answer was lost: DynamoDB applies a token at
 * most once (for ten minutes), and answers a resend of a committed one with
 * success. So a conditional delete or an ADD is applied once, and its resend
 * reports the success instead of "not found" or a second increment. Every
 * resend of this one change, by the SDK or below, carries the same token.
 * Resolves [] when committed, else the cancellation reasons (one per item,
 * `None` for those that passed); other failures reject, unmapped.
 */
export async function transactOnce(dynamo: Dynamo, items: TransactItem[]): Promise<CancellationReason[]> {
  const command = new TransactWriteCommand({ ClientRequestToken: randomUUID(), TransactItems: items });
  for (let attempt = 1; ; attempt++) {
    try {
      await dynamo.documents.send(command);
      return [];
    } catch (error) {
      // A resend that overtook the first attempt: wait for that one to finish, then ask again with the same token.
      if (error instanceof TransactionInProgressException && attempt < IN_PROGRESS_ATTEMPTS) {
        await sleep(IN_PROGRESS_BACKOFF_MS * attempt);
        continue;
      }
      if (error instanceof TransactionCanceledException && error.CancellationReasons?.length) {
        const reasons = error.CancellationReasons;
        if (reasons.some((reason) => reason.Code && !KNOWN_CANCELLATIONS.has(reason.Code))) throw error;
        return reasons;
      }
      throw error;
    }
  }
}

/** The version read: still the same (`:version`), or still absent. */
export function versionCondition(version: WholeNumber | null): string {
  return version === null ? 'attribute_not_exists(version)' : 'version = :version';
}
