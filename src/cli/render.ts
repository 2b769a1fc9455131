import { Chalk, type ChalkInstance } from 'chalk';
import Table from 'cli-table3';
import type { Cart, Extra, Order, ProductLine } from '../core/model.js';
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
    const summary = this.fields([
      ['order', this.chalk.bold(show(order.orderId))],
      ['user', show(order.userId)],
      ['total', show(order.totalAmount)],
      ['status', this.status(order.status)],
      ['created', show(order.createdAt)],
      ['updated', show(order.updatedAt)],
      ['version', show(order.version)],
      ...(order.cartId === null ? [] : [['cart', show(order.cartId)] as [string, string]]),
      ...extraRows(order.extra),
    ]);
    return order.products === null ? summary : `${summary}\n${this.lines(order.products)}`;
  }

  cart(cart: Cart): string {
    const summary = this.fields([
      ['cart', this.chalk.bold(show(cart.cartId))],
      ['user', show(cart.userId)],
      ['total', show(cart.totalAmount)],
      ...(cart.status === null ? [] : [['status', show(cart.status)] as [string, string]]),
      ...(cart.orderId === null ? [] : [['order', show(cart.orderId)] as [string, string]]),
      ['created', show(cart.createdAt)],
      ['updated', show(cart.updatedAt)],
      ['version', show(cart.version)],
      ...extraRows(cart.extra),
    ]);
    return `${summary}\n${this.lines(cart.products ?? [])}`;
  }

  /** A cart's or an order's product lines as a grid. */
  private lines(products: ProductLine[]): string {
    if (products.length === 0) return this.chalk.dim('(no products)');
    return this.grid(
      [
        { title: 'Product', kind: 'key' },
        { title: 'Name', kind: 'text' },
        { title: 'Qty', kind: 'number' },
        { title: 'Unit price', kind: 'number' },
        { title: 'Line total', kind: 'number' },
      ],
      products.map((line) => {
        const other = line.extra ? ` (${Object.keys(line.extra).join(', ')}: see --json)` : '';
        return [show(line.productId), show(line.name) + other, show(line.quantity), show(line.unitPrice), lineTotal(line.unitPrice, line.quantity)];
      }),
    );
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

  /** A page of orders: one row each; `when` says which date is shown (the one the listing is sorted by). */
  orderList(orders: Order[], when: 'createdAt' | 'updatedAt'): string {
    if (orders.length === 0) return this.chalk.dim('(no orders)');
    return this.grid(
      [
        { title: 'Order', kind: 'key' },
        { title: 'User', kind: 'key' },
        { title: 'Status', kind: 'key' },
        { title: 'Total', kind: 'number' },
        { title: when === 'createdAt' ? 'Created' : 'Updated', kind: 'text' },
      ],
      orders.map((order) => [this.chalk.bold(show(order.orderId)), show(order.userId), this.status(order.status), show(order.totalAmount), shortDate(order[when])]),
    );
  }

  /** A page of carts: one row each. */
  cartList(carts: Cart[]): string {
    if (carts.length === 0) return this.chalk.dim('(no carts)');
    return this.grid(
      [
        { title: 'Cart', kind: 'key' },
        { title: 'User', kind: 'key' },
        { title: 'Lines', kind: 'number' },
        { title: 'Total', kind: 'number' },
        { title: 'Status', kind: 'text' },
        { title: 'Created', kind: 'text' },
      ],
      carts.map((cart) => [
        this.chalk.bold(show(cart.cartId)),
        show(cart.userId),
        cart.products === null ? '-' : String(cart.products.length),
        show(cart.totalAmount),
        cart.status === null ? 'open' : show(cart.status),
        shortDate(cart.createdAt),
      ]),
    );
  }

  /**
   * The command that prints the next page, after a list. A cursor too long for
   * the terminal is continued on the next lines with a shell `\` and no
   * indent, so that the lines pasted together are still the one command.
   */
  more(command: string, cursor: string): string {
    const line = `more: ${command} --cursor ${cursor}`;
    if (this.width === undefined || displayWidth(line) <= this.width) return this.chalk.dim(line);
    // Room for the ` \\` that continues the last line of the command into the cursor.
    // Never broken inside a quoted argument (a continuation there would change it).
    const guarded = `more: ${command} --cursor`.replace(/'[^']*'/g, (quoted) => quoted.replace(/ /g, '\u00a0'));
    const head = wrap(guarded, this.width - 2, { indent: 6, before: ' \\' }).map((part) => part.replace(/\u00a0/g, ' '));
    const lines = [...head.slice(0, -1), `${head.at(-1) ?? ''} \\`];
    const room = this.width - 1;
    for (let start = 0; start < cursor.length; start += room) {
      const chunk = cursor.slice(start, start + room);
      lines.push(start + room < cursor.length ? `${chunk}\\` : chunk);
    }
    return this.chalk.dim(lines.join('\n'));
  }

  /** shopdb's indexes of each table and their state: one row per index. */
  tableIndexes(reports: TableReport[]): string {
    return this.grid(
      [
        { title: 'Table', kind: 'text' },
        { title: 'Index', kind: 'key' },
        { title: 'Status', kind: 'key' },
      ],
      reports.flatMap((report) =>
        report.indexes.map((index) => [report.kind, index.name, this.tableStatus(index.backfilling ? `${index.status} (filling)` : index.status)]),
      ),
    );
  }

  /** Time to Live of the tables that have one (the idempotency keys'): the attribute it deletes by, and its state. */
  tableTimeToLive(reports: TableReport[]): string {
    return this.grid(
      [
        { title: 'Table', kind: 'text' },
        { title: 'Time to live', kind: 'key' },
        { title: 'Status', kind: 'key' },
      ],
      reports.flatMap((report) => (report.timeToLive ? [[report.kind, report.timeToLive.attribute, this.tableStatus(report.timeToLive.status)]] : [])),
    );
  }

  /** The stream of the tables whose changes the cache follows (orders, carts): its view type and state. */
  tableStreams(reports: TableReport[]): string {
    return this.grid(
      [
        { title: 'Table', kind: 'text' },
        { title: 'Stream', kind: 'key' },
        { title: 'Status', kind: 'key' },
      ],
      reports.flatMap((report) => (report.stream ? [[report.kind, show(report.stream.viewType), this.tableStatus(report.stream.change === 're-enabled' ? 'ENABLED again' : report.stream.status)]] : [])),
    );
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
    if (status === 'ACTIVE' || status === 'ENABLED') return this.chalk.green(status);
    return status === 'MISSING' ? this.chalk.red(status) : this.chalk.yellow(status);
  }

  /**
   * `label: value` lines, as gh prints a single thing: values line up after
   * the longest label and wrap under their own column, so long ids stay whole
   * and inside the terminal.
   */
  private fields(rows: Array<[string, string]>): string {
    const labelWidth = Math.max(...rows.map(([label]) => displayWidth(label))) + 1;
    const valueWidth = this.width === undefined ? undefined : Math.max(1, this.width - labelWidth - 1);
    const out: string[] = [];
    for (const [label, value] of rows) {
      const head = `${this.chalk.bold(`${label}:`)}${' '.repeat(labelWidth - displayWidth(label) - 1)} `;
      const fitted = value.split('\n').flatMap((line) => (valueWidth === undefined ? [line] : wrap(line, valueWidth)));
      fitted.forEach((line, index) => out.push(index === 0 ? `${head}${line}` : `${' '.repeat(labelWidth + 1)}${line}`));
    }
    return out.join('\n');
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
    return rows.map((row) => this.fields(columns.map((column, index): [string, string] => [column.title, row[index] ?? '']))).join('\n\n');
  }

  private colourlessBorder(): string[] {
    return this.chalk.level > 0 ? ['grey'] : [];
  }
}

/** 2024-05-01T12:03:04.567Z as 2024-05-01 12:03 (UTC); anything else as stored. */
function shortDate(value: string | null): string {
  if (value === null) return '-';
  const match = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2})(?::\d{2}(?:\.\d+)?)?Z$/.exec(value);
  return match ? `${match[1]} ${match[2]}` : show(value);
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
