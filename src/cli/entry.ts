import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { main } from './main.js';

/*
 * The one module that touches the process: arguments, environment, streams,
 * exit code. Everything below it takes them as parameters.
 */

// The SDK warns on every client construction that Node 20 support is ending; shopdb pins an SDK that supports it.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

// A closed pipe (`shopdb ... | head -1`) is the reader's choice, not an error.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code !== 'EPIPE') throw error;
});

const env = process.env;
process.exitCode = await main({
  argv: process.argv.slice(2),
  stdin: process.stdin,
  env,
  streams: {
    stdout: process.stdout,
    stderr: process.stderr,
    stderrIsTty: process.stderr.isTTY === true,
    stdoutColumns: process.stdout.isTTY ? process.stdout.columns : undefined,
    stderrColumns: process.stderr.isTTY ? process.stderr.columns : undefined,
  },
  stdoutIsTty: process.stdout.isTTY === true,
  hasAwsFile: () => {
    const aws = join(homedir(), '.aws');
    return existsSync(env.AWS_SHARED_CREDENTIALS_FILE ?? join(aws, 'credentials')) || existsSync(env.AWS_CONFIG_FILE ?? join(aws, 'config'));
  },
});
