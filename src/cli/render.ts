import { Chalk, type ChalkInstance } from 'chalk';
import Table from 'cli-table3';
import type { Cart, Extra, Order } from '../core/model.js';
import { formatCents, multiply, parseAmount } from '../core/money.js';
import type { TableReport } from '../core/tables.js';

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

  constructor(
    color: boolean,
    /** The terminal's width, when known; tables and lines are fitted to it. */
    readonly columns: number | undefined = undefined,
  ) {
    // chalk does not honour NO_COLOR itself; the level comes from our resolved config.
    this.chalk = new Chalk({ level: color ? 1 : 0 });
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
    if (!cart.products?.length) return `${summary}\n${this.chalk.dim('(no products)')}`;
    const lines = this.grid(['Product', 'Name', 'Qty', 'Unit price', 'Line total']);
    for (const line of cart.products) {
      const other = line.extra ? ` (${Object.keys(line.extra).join(', ')}: see --json)` : '';
      lines.push([show(line.productId), show(line.name) + other, show(line.quantity), show(line.unitPrice), lineTotal(line.unitPrice, line.quantity)]);
    }
    return `${summary}\n${lines.toString()}`;
  }

  tables(reports: TableReport[]): string {
    const grid = this.grid(['Table', 'Result', 'Status', 'Billing', 'Items']);
    for (const report of reports) {
      grid.push([report.name, report.result, this.tableStatus(report.status), show(report.billing), show(report.itemCount)]);
    }
    return grid.toString();
  }

  /** One line confirming a write. */
  done(message: string): string {
    return `${this.chalk.green('✓')} ${message}`;
  }

  status(status: string | null): string {
    if (status === null) return show(status);
    const colour = STATUS_COLOURS[status];
    return colour ? (this.chalk[colour] as ChalkInstance)(status) : status;
  }

  private tableStatus(status: string): string {
    if (status === 'ACTIVE') return this.chalk.green(status);
    return status === 'MISSING' ? this.chalk.red(status) : this.chalk.yellow(status);
  }

  private fields(rows: Array<[string, string]>): string {
    const table = new Table({ style: { head: [], border: this.colourlessBorder() } });
    for (const [label, value] of rows) table.push({ [this.chalk.bold(label)]: value });
    return table.toString();
  }

  private grid(head: string[]): Table.Table {
    return new Table({ head: head.map((title) => this.chalk.bold(title)), style: { head: [], border: this.colourlessBorder() } });
  }

  private colourlessBorder(): string[] {
    return this.chalk.level > 0 ? ['grey'] : [];
  }
}

function show(value: string | number | bigint | null): string {
  return value === null ? '-' : String(value);
}

/** Attributes shopdb does not read, shown as stored (DynamoDB JSON). */
function extraRows(extra: Extra | undefined): Array<[string, string]> {
  return Object.entries(extra ?? {}).map(([name, value]) => [name, JSON.stringify(value)]);
}

function lineTotal(unitPrice: string | null, quantity: number | bigint | null): string {
  if (unitPrice === null || quantity === null) return '-';
  try {
    return formatCents(multiply(parseAmount(unitPrice, 'unitPrice'), quantity));
  } catch {
    return '-'; // a line written by another program, with a price shopdb would not accept
  }
}
