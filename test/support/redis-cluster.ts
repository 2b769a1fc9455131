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
  /** redis://127.0.0.1:<first port> (rediss:// and its TLS port with tls, with the password if any): the seed node to give shopdb with --redis-cluster. */
  url: string;
  nodes: RunningRedis[];
  /** The node that holds a key's slot (CLUSTER KEYSLOT + CLUSTER NODES, asked of the seed; a cluster without a password). */
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

export interface ClusterOptions {
  /** requirepass (and masterauth) on every node; the URL carries it. */
  password?: string;
  /** A TLS port beside each plain one (the cluster bus on TLS too); the URL is rediss:// to the first TLS port. */
  tls?: { cert: string; key: string };
}

export async function startCluster(options: ClusterOptions = {}): Promise<RunningCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'shopdb-cluster-'));
  const ports: number[] = [];
  while (ports.length < MASTERS) {
    const port = await freePort();
    if (!ports.includes(port)) ports.push(port);
  }
  const tlsPorts = new Map<number, number>();
  if (options.tls) for (const port of ports) tlsPorts.set(port, await freePort());
  const { password, tls } = options;
  const startNode = (port: number) =>
    startRedis({
      port,
      password,
      extraArgs: [
        ...['--cluster-enabled', 'yes', '--cluster-config-file', join(dir, `nodes-${port}.conf`), '--cluster-require-full-coverage', 'no', '--dir', dir],
        ...(password === undefined ? [] : ['--masterauth', password]),
        ...(tls === undefined ? [] : ['--tls-port', String(tlsPorts.get(port)), '--tls-cluster', 'yes', '--tls-cert-file', tls.cert, '--tls-key-file', tls.key, '--tls-ca-cert-file', tls.cert, '--tls-auth-clients', 'no']),
      ],
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
    await execa('redis-cli', [...auth(password), '--cluster', 'create', ...ports.map((port) => `127.0.0.1:${port}`), '--cluster-replicas', '0', '--cluster-yes']);
    await waitUntilOk(ports, password);
  } catch (error) {
    await stop();
    throw error;
  }
  const seed = ports[0] as number;
  const slotOf = async (key: string) => Number((await cli(seed, 'CLUSTER', 'KEYSLOT', key)).trim());
  const credentials = password === undefined ? '' : `:${encodeURIComponent(password)}@`;
  return {
    url: tls === undefined ? `redis://${credentials}127.0.0.1:${seed}` : `rediss://${credentials}127.0.0.1:${tlsPorts.get(seed)}`,
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
      await waitUntilOk(ports, password);
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

function auth(password: string | undefined): string[] {
  return password === undefined ? [] : ['-a', password, '--no-auth-warning'];
}

async function waitUntilOk(ports: number[], password?: string): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    const states = await Promise.all(ports.map(async (port) => /cluster_state:ok/.test(await cli(port, ...auth(password), 'CLUSTER', 'INFO'))));
    if (states.every(Boolean)) return;
    if (Date.now() > deadline) throw new Error(`the test Redis Cluster (ports ${ports.join(', ')}) did not reach cluster_state:ok within ${READY_TIMEOUT_MS} ms`);
    await sleep(100);
  }
}
