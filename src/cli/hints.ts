import type { Hint } from '../core/errors.js';
import type { GlobalOptions } from './config.js';

/** The settings in use when a command failed: what a hint must repeat so that its command reaches the same service and tables. */
export interface HintSettings {
  /** The global options given on the command line (commander's parse). */
  flags: GlobalOptions;
  /** The table prefix and timeout in use, from whichever source set them. */
  tablePrefix: string;
  timeoutMs: number;
}

/**
 * Words a core hint for a person at a shell. Endpoint and region are repeated
 * only when they came as flags (variables still hold in the next command); the
 * table prefix whenever one is in use, since it is what the hint is about.
 * Endpoints cannot hold credentials (config refuses them) and nothing else
 * repeated here is secret.
 */
export function renderHint(hint: Hint, settings: HintSettings): string {
  switch (hint.kind) {
    case 'create-tables':
      return `run: ${command(settings, 'tables create')}`;
    case 'table-status':
      return `check again with: ${command(settings, 'tables status')}`;
    case 'start-local':
      return `start one with: shopdb local start${hint.port === undefined || hint.port === 8000 ? '' : ` --port ${hint.port}`}`;
    case 'raise-timeout':
      return `check the endpoint, or raise --timeout (now ${settings.timeoutMs / 1000} s)`;
    case 'use-http':
      return `use ${hint.endpoint}`;
    case 'check-credentials':
      return 'check AWS_PROFILE or AWS_ACCESS_KEY_ID';
    case 'raise-capacity':
      return "try again later or raise the table's capacity";
    case 'stop-local':
      return 'stop it first with: shopdb local stop';
    case 'set-region':
      return 'pass --region or set SHOPDB_REGION or AWS_REGION';
    case 'other-prefix':
      return 'use another --table-prefix or remove the table';
    case 'force':
      return 'add --force to do it anyway';
    case 'fix-item':
      return 'correct the item (e.g. export it, fix it, import it with --overwrite) and try again';
  }
}

/** `shopdb <global options in use> <sub>`, quoted for a POSIX shell. */
function command(settings: HintSettings, sub: string): string {
  const { flags, tablePrefix } = settings;
  const words = [
    ...(flags.endpoint === undefined ? [] : ['--endpoint', flags.endpoint]),
    ...(flags.region === undefined ? [] : ['--region', flags.region]),
    ...(tablePrefix === '' ? [] : ['--table-prefix', tablePrefix]),
  ];
  return ['shopdb', ...words.map(shellQuote), sub].join(' ');
}


export function shellQuote(word: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(word)) return word;
  return `'${word.replace(/'/g, `'\\''`)}'`;
}
