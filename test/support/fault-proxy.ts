import { createServer, request, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * An HTTP proxy in front of DynamoDB Local that injects faults DynamoDB
 * itself will not produce on demand: throttling, an answer lost after the
 * write was applied, a request held until the client has given up.
 */
export type Fault =
  | 'forward'
  | 'throttle'
  | 'in-progress'
  /** Answer, without forwarding, that the table is being updated (AWS's answer to an UpdateTable meanwhile). */
  | 'resource-in-use'
  /** Answer, without forwarding, that the transaction was cancelled by another one in progress on the same item (TransactionConflict). */
  | 'transaction-conflict'
  /** Forward, let DynamoDB apply it, then cut the connection instead of answering. */
  | 'drop-response'
  | { holdMs: number };

export interface SeenRequest {
  index: number;
  /** The DynamoDB operation, e.g. "TransactWriteItems". */
  operation: string;
  body: string;
}

export interface FaultProxy {
  endpoint: string;
  seen: SeenRequest[];
  close(): Promise<void>;
}

export async function startFaultProxy(upstream: string, decide: (request: SeenRequest) => Fault): Promise<FaultProxy> {
  const seen: SeenRequest[] = [];
  const target = new URL(upstream);

  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    const operation = String(req.headers['x-amz-target'] ?? '').split('.').pop() ?? '';
    const seenRequest = { index: seen.length, operation, body };
    seen.push(seenRequest);
    const fault = decide(seenRequest);

    if (fault === 'transaction-conflict') {
      const items = ((JSON.parse(body) as { TransactItems?: unknown[] }).TransactItems ?? []).length;
      const reasons = Array.from({ length: items }, (_, i) => (i === 0 ? { Code: 'TransactionConflict', Message: 'Transaction is ongoing for the item' } : { Code: 'None' }));
      const payload = JSON.stringify({
        __type: 'com.amazonaws.dynamodb.v20120810#TransactionCanceledException',
        Message: `Transaction cancelled, please refer cancellation reasons for specific reasons [${reasons.map((reason) => reason.Code).join(', ')}]`,
        CancellationReasons: reasons,
      });
      res.writeHead(400, { 'content-type': 'application/x-amz-json-1.0', 'content-length': Buffer.byteLength(payload) });
      res.end(payload);
      return;
    }
    if (fault === 'throttle' || fault === 'in-progress' || fault === 'resource-in-use') {
      const type = { throttle: 'ProvisionedThroughputExceededException', 'in-progress': 'TransactionInProgressException', 'resource-in-use': 'ResourceInUseException' }[fault];
      const payload = JSON.stringify({ __type: `com.amazonaws.dynamodb.v20120810#${type}`, message: `injected ${type}` });
      res.writeHead(400, { 'content-type': 'application/x-amz-json-1.0', 'content-length': Buffer.byteLength(payload) });
      res.end(payload);
      return;
    }
    if (typeof fault === 'object') await sleep(fault.holdMs);
    let answer: { status: number; headers: IncomingHttpHeaders; body: Buffer };
    try {
      answer = await forward(target, req.method ?? 'POST', req.url ?? '/', req.headers, chunks);
    } catch {
      req.socket.destroy();
      return;
    }
    if (fault === 'drop-response' || req.socket.destroyed) {
      req.socket.destroy();
      return;
    }
    res.writeHead(answer.status, answer.headers);
    res.end(answer.body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    seen,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function forward(target: URL, method: string, path: string, headers: IncomingHttpHeaders, body: Buffer[]) {
  return new Promise<{ status: number; headers: IncomingHttpHeaders; body: Buffer }>((resolve, reject) => {
    const upstream = request({ host: target.hostname, port: target.port, method, path, headers: { ...headers, host: target.host } }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (part: Buffer) => parts.push(part));
      res.on('end', () => resolve({ status: res.statusCode ?? 502, headers: res.headers, body: Buffer.concat(parts) }));
      res.on('error', reject);
    });
    upstream.on('error', reject);
    upstream.end(Buffer.concat(body));
  });
}

/** The ClientRequestToken a TransactWriteItems request carried. */
export function requestToken(request: SeenRequest): string | undefined {
  return (JSON.parse(request.body) as { ClientRequestToken?: string }).ClientRequestToken;
}
