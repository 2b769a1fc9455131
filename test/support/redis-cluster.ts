/**
 * A throwaway 3-master Redis Cluster on free loopback ports, for tests:
 * three `redis-server --cluster-enabled yes`, joined by `redis-cli --cluster
 * create` (no replicas), ready once every node reports cluster_state:ok.
 * `cluster-require-full-coverage no`: with a master down, the others go on
 * serving their slots (what a cluster with replicas does after a failover).
 */
import { execa } from 'execa';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../../src/local/engine.js';
import { startRedis, type RunningRedis } from '../../src/local/redis-server.js';

export interface RunningCluster {
  /** redis://127.0.0.1:<first port>: the seed node to give shopdb with --redis-cluster. */
  url: string;
  nodes: RunningRedis[];
  /** The node that holds a key's slot (CLUSTER KEYSLOT + CLUSTER SLOTS, asked of the seed). */
  nodeOf(key: string): Promise<RunningRedis>;
  /** The slot of a key, as Redis computes it. */
  slotOf(key: string): Promise<number>;
  /** Starts a node that was killed again on its port, with its cluster config (its slots, empty of data); resolves once every node reports cluster_state:ok. */
  restart(port: number): Promise<void>;
  stop(): Promise<void>;
  /** Synchronous SIGKILL of every node, safe from an 'exit' handler. */
  kill(): void;
}

const MASTERS = 3;
const READY_TIMEOUT_MS = 30_000;

export async function startCluster(): Promise<RunningCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'shopdb-cluster-'));
  const ports: number[] = [];
  while (ports.length < MASTERS) {
    const port = await freePort();
    if (!ports.includes(port)) ports.push(port);
  }
  const startNode = (port: number) =>
    startRedis({
      port,
      extraArgs: ['--cluster-enabled', 'yes', '--cluster-config-file', join(dir, `nodes-${port}.conf`), '--cluster-require-full-coverage', 'no', '--dir', dir],
    });
  const started = await Promise.allSettled(ports.map(startNode));
  const nodes = started.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
  const stop = async () => {
    await Promise.allSettled(nodes.map((node) => node.stop()));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const failed = started.find((result): result is PromiseRejectedResult => result.status === 'rejected');
    if (failed) throw failed.reason;
    await execa('redis-cli', ['--cluster', 'create', ...ports.map((port) => `127.0.0.1:${port}`), '--cluster-replicas', '0', '--cluster-yes']);
    await waitUntilOk(ports);
  } catch (error) {
    await stop();
    throw error;
  }
  const seed = ports[0] as number;
  const slotOf = async (key: string) => Number((await cli(seed, 'CLUSTER', 'KEYSLOT', key)).trim());
  return {
    url: `redis://127.0.0.1:${seed}`,
    nodes,
    slotOf,
    nodeOf: async (key) => {
      const slot = await slotOf(key);
      const owner = (await slotOwners(seed)).find((range) => range.from <= slot && slot <= range.to);
      const node = nodes.find((candidate) => candidate.port === owner?.port);
      if (!node) throw new Error(`no node of the test cluster holds slot ${slot}`);
      return node;
    },
    restart: async (port) => {
      const index = nodes.findIndex((node) => node.port === port);
      nodes[index]?.kill();
      nodes[index] = await startNode(port);
      await waitUntilOk(ports);
    },
    stop,
    kill: () => {
      for (const node of nodes) node.kill();
    },
  };
}

/** redis-cli against one node, without following redirections; the reply as text. */
export async function cli(port: number, ...args: string[]): Promise<string> {
  return (await execa('redis-cli', ['-p', String(port), ...args])).stdout;
}

/** The slot ranges of each master, from CLUSTER NODES. */
async function slotOwners(port: number): Promise<Array<{ from: number; to: number; port: number }>> {
  const ranges: Array<{ from: number; to: number; port: number }> = [];
  for (const line of (await cli(port, 'CLUSTER', 'NODES')).split('\n')) {
    const fields = line.trim().split(' ');
    if (!fields[2]?.includes('master')) continue;
    const nodePort = Number(/:(\d+)@/.exec(fields[1] ?? '')?.[1]);
    for (const range of fields.slice(8)) {
      const match = /^(\d+)(?:-(\d+))?$/.exec(range);
      if (match) ranges.push({ from: Number(match[1]), to: Number(match[2] ?? match[1]), port: nodePort });
    }
  }
  return ranges;
}

async function waitUntilOk(ports: number[]): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    const states = await Promise.all(ports.map(async (port) => /cluster_state:ok/.test(await cli(port, 'CLUSTER', 'INFO'))));
    if (states.every(Boolean)) return;
    if (Date.now() > deadline) throw new Error(`the test Redis Cluster (ports ${ports.join(', ')}) did not reach cluster_state:ok within ${READY_TIMEOUT_MS} ms`);
    await sleep(100);
  }
}
