import { Chalk, type ChalkInstance } from 'chalk';
import Table from 'cli-table3';
import type { Cart, Extra, Order } from '../core/model.js';
import { formatCents, multiply, parseAmount } from '../core/money.js';
import type { TableReport } from '../core/tables.js';
import { cut, displayWidth, usableColumns, wrap } from './layout.js';

/**
 * How a grid column may give way on a narrow terminal: `text` is cut with …,
 * `key` (ids, names of things) and `number` (counts, amounts) never are: when
 * they do not fit, each row is drawn as its own label/value box instead.
 * Numbers are right-aligned.
 */
type ColumnKind = 'key' | 'text' | 'number';
interface Column {
  title: string;
  kind: ColumnKind;
}

/** A text column is never cut below this many columns (or its title). */
const MIN_TEXT_WIDTH = 6;

const STATUS_COLOURS: Record<string, keyof ChalkInstance> = {
  PENDING: 'yellow',
  PAID: 'cyan',
  SHIPPED: 'blue',
  COMPLETED: 'green',
  CANCELLED: 'red',
};

/** Draws results for a person at a terminal. */
export class Renderer {
  private readonly chalk: ChalkInstance;
  /** Columns to fit into; undefined when unknown (output not on a terminal), then nothing is fitted. */
  private readonly width: number | undefined;

  constructor(
    color: boolean,
    /** The terminal's width, when known; tables and lines are fitted to it. */
    readonly columns: number | undefined = undefined,
  ) {
    // chalk does not honour NO_COLOR itself; the level comes from our resolved config.
    this.chalk = new Chalk({ level: color ? 1 : 0 });
    this.width = usableColumns(columns);
  }

  order(order: Order): string {
    return this.fields([
      ['Order', this.chalk.bold(order.orderId)],
      ['User', show(order.userId)],
      ['Total', show(order.totalAmount)],
      ['Status', this.status(order.status)],
      ['Created', show(order.createdAt)],
      ['Updated', show(order.updatedAt)],
      ['Version', show(order.version)],
      ...extraRows(order.extra),
    ]);
  }

  cart(cart: Cart): string {
    const summary = this.fields([
      ['Cart', this.chalk.bold(cart.cartId)],
      ['User', show(cart.userId)],
      ['Total', show(cart.totalAmount)],
      ['Created', show(cart.createdAt)],
      ['Updated', show(cart.updatedAt)],
      ['Version', show(cart.version)],
      ...extraRows(cart.extra),
    ]);
    if (!cart.products?.length) return `${summary}
${this.chalk.dim('(no products)')}`;
    const lines = this.grid(
      [
        { title: 'Product', kind: 'key' },
        { title: 'Name', kind: 'text' },
        { title: 'Qty', kind: 'number' },
        { title: 'Unit price', kind: 'number' },
        { title: 'Line total', kind: 'number' },
      ],
      cart.products.map((line) => {
        const other = line.extra ? ` (${Object.keys(line.extra).join(', ')}: see --json)` : '';
        return [show(line.productId), show(line.name) + other, show(line.quantity), show(line.unitPrice), lineTotal(line.unitPrice, line.quantity)];
      }),
    );
    return `${summary}
${lines}`;
  }

  tables(reports: TableReport[]): string {
    return this.grid(
      [
        { title: 'Table', kind: 'key' },
        { title: 'Result', kind: 'key' },
        { title: 'Status', kind: 'key' },
        { title: 'Billing', kind: 'text' },
        { title: 'Items', kind: 'number' },
      ],
      reports.map((report) => [report.name, report.result, this.tableStatus(report.status), show(report.billing), show(report.itemCount)]),
    );
  }

  /**
   * Settings and where each came from (`config show`): a grid when it fits
   * uncut, else each value with its source on the line below, both wrapped.
   */
  settings(rows: Array<[setting: string, value: string | null, source: string]>): string {
    const shown = rows.map(([setting, value, source]) => [setting, show(value), show(source)]);
    const columns: Column[] = [
      { title: 'Setting', kind: 'key' },
      { title: 'Value', kind: 'key' },
      { title: 'Source', kind: 'key' },
    ];
    const widths = columns.map((column, index) => Math.max(displayWidth(column.title), ...shown.map((row) => displayWidth(row[index] ?? ''))));
    if (this.width === undefined || widths.reduce((sum, width) => sum + width, 0) + columns.length * 3 + 1 <= this.width) return this.grid(columns, shown);
    return this.fields(shown.map(([setting = '', value = '', source = '']) => [setting, `${value}\nfrom ${source}`]));
  }

  /** One line confirming a write, wrapped under its tick when the terminal is narrow. */
  done(message: string): string {
    return this.prose(`${this.chalk.green('✓')} ${message}`, 2);
  }

  /** The outcome of a command that did only part of its work: never a green tick. */
  partial(message: string): string {
    return this.prose(`${this.chalk.yellow('!')} ${message}`, 2);
  }

  /** A line of prose fitted to the terminal: wrapped at spaces, long words broken, nothing dropped. */
  prose(line: string, indent = 0): string {
    return this.width === undefined ? line : wrap(line, this.width, { indent }).join('\n');
  }

  status(status: string | null): string {
    if (status === null) return show(status);
    const colour = STATUS_COLOURS[status];
    return colour ? (this.chalk[colour] as ChalkInstance)(status) : show(status);
  }

  private tableStatus(status: string): string {
    if (status === 'ACTIVE') return this.chalk.green(status);
    return status === 'MISSING' ? this.chalk.red(status) : this.chalk.yellow(status);
  }

  /** Label/value rows; values wrap inside their cell, so long ids stay whole and inside the terminal. */
  private fields(rows: Array<[string, string]>): string {
    const labelWidth = Math.max(...rows.map(([label]) => displayWidth(label)));
    let valueWidth = Math.max(1, ...rows.map(([, value]) => Math.max(...value.split('\n').map(displayWidth))));
    // Two cells: one border and two spaces of padding each, plus the closing border.
    if (this.width !== undefined) valueWidth = Math.max(1, Math.min(valueWidth, this.width - labelWidth - 7));
    const table = new Table({ colWidths: [labelWidth + 2, valueWidth + 2], style: { head: [], border: this.colourlessBorder() } });
    for (const [label, value] of rows) {
      const fitted = value.split('\n').flatMap((line) => wrap(line, valueWidth));
      table.push({ [this.chalk.bold(label)]: fitted.join('\n') });
    }
    return table.toString();
  }

  /** A grid with a header row, fitted to the terminal as the column kinds allow. */
  private grid(columns: Column[], rows: string[][]): string {
    const widths = columns.map((column, index) => Math.max(displayWidth(column.title), ...rows.map((row) => displayWidth(row[index] ?? ''))));
    if (this.width !== undefined) {
      const floors = columns.map((column, index) => (column.kind === 'text' ? Math.min(widths[index] ?? 0, Math.max(MIN_TEXT_WIDTH, displayWidth(column.title))) : (widths[index] ?? 0)));
      let excess = widths.reduce((sum, width) => sum + width, 0) + columns.length * 3 + 1 - this.width;
      while (excess > 0) {
        // Give way one column at a time, from the widest text column that still can.
        let widest = -1;
        widths.forEach((width, index) => {
          if (width > (floors[index] ?? 0) && (widest === -1 || width > (widths[widest] ?? 0))) widest = index;
        });
        if (widest === -1) return this.stacked(columns, rows);
        widths[widest] = (widths[widest] ?? 0) - 1;
        excess--;
      }
    }
    const table = new Table({
      head: columns.map((column) => this.chalk.bold(column.title)),
      colWidths: widths.map((width) => width + 2),
      colAligns: columns.map((column) => (column.kind === 'number' ? 'right' : 'left')),
      style: { head: [], border: this.colourlessBorder() },
    });
    for (const row of rows) table.push(row.map((cell, index) => cut(cell, widths[index] ?? 0)));
    return table.toString();
  }

  /** Each row as its own label/value box, for a terminal too narrow for the grid. */
  private stacked(columns: Column[], rows: string[][]): string {
    return rows.map((row) => this.fields(columns.map((column, index): [string, string] => [column.title, row[index] ?? '']))).join('\n');
  }

  private colourlessBorder(): string[] {
    return this.chalk.level > 0 ? ['grey'] : [];
  }
}

function show(value: string | number | bigint | null): string {
  return value === null ? '-' : printable(String(value));
}

/**
 * Text others stored may hold control characters; C1 ones (U+0080–U+009F)
 * start escape sequences on many terminals, and JSON.stringify leaves them as
 * they are. Bidirectional controls (U+202E…) make "alice\u202egnp.exe" read as
 * "aliceexe.png". Shown escaped, so a value can never drive the terminal or
 * disguise itself.
 */
export function printable(text: string): string {
  // eslint-disable-next-line no-control-regex -- matching control characters is the point
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Attributes shopdb does not read, shown as stored (DynamoDB JSON). */
function extraRows(extra: Extra | undefined): Array<[string, string]> {
  return Object.entries(extra ?? {}).map(([name, value]) => [printable(name), printable(JSON.stringify(value))]);
}

function lineTotal(unitPrice: string | null, quantity: number | bigint | null): string {
  if (unitPrice === null || quantity === null) return '-';
  try {
    return formatCents(multiply(parseAmount(unitPrice, 'unitPrice'), quantity));
  } catch {
    return '-'; // a line written by another program, with a price shopdb would not accept
  }
}
