import { Argument, Command, Help, Option } from 'commander';
import { displayWidth, usableColumns, wrap } from './layout.js';
import { badInput } from '../core/errors.js';
import { quote } from '../core/validate.js';
import type { CommandContext } from './context.js';

/** The shells `completion` writes scripts for (kept here so that --help needs no import of the generator). */
const SHELLS = ['bash', 'zsh', 'fish'] as const;

/** Runs a command body with a context built from the options of `command` and its parents. */
export type WithContext = (command: Command, body: (ctx: CommandContext) => Promise<void>) => Promise<void>;

/** Examples after the help text, fitted to the terminal as the help is (see fittedHelp). */
function examples(...lines: string[]): (context: { command: Command }) => string {
  const text = `\nExample${lines.length > 1 ? 's' : ''}:\n${lines.map((line) => `  $ ${line}`).join('\n')}\n`;
  return ({ command }) => fitHelpLines(text, command.configureOutput().getOutHelpWidth?.());
}

/**
 * The whole command tree. Command bodies are imported only when their
 * command runs, so `--help` loads neither the AWS SDK nor the renderers.
 */
export function buildProgram(withContext: WithContext, io: { writeOut(text: string): void; writeErr(text: string): void }): Command {
  const program = new Command('shopdb')
    // Set before any subcommand exists: subcommands copy these settings when created.
    .exitOverride()
    .configureOutput({ writeOut: io.writeOut, writeErr: io.writeErr, outputError: () => {} })
    // Every subcommand's help also lists the global options, and marks the options it requires.
    .configureHelp({ formatHelp: fittedHelp, showGlobalOptions: true, optionDescription: markedRequired })
    .description("Manage a shop's orders and carts in Amazon DynamoDB")
    .version('0.1.0', '-V, --version')
    .option('--endpoint <url>', 'DynamoDB endpoint URL (env SHOPDB_ENDPOINT, AWS_ENDPOINT_URL_DYNAMODB)')
    .option('--region <name>', 'AWS region (env SHOPDB_REGION, AWS_REGION)')
    .option('--table-prefix <prefix>', 'prefix for the table names (env SHOPDB_TABLE_PREFIX)')
    .option('--json', 'print results as one-line JSON (the default when stdout is not a terminal)')
    .addOption(new Option('--output <format>', 'output format: json or table (env SHOPDB_OUTPUT)'))
    .option('--timeout <seconds>', 'longest any DynamoDB call may take, retries included (env SHOPDB_TIMEOUT)', undefined)
    .option('--cache', 'read through the Redis cache (order get, cart get, serve)')
    .option('--cache-ttl <seconds>', 'lifetime of cached items (default 300; env SHOPDB_CACHE_TTL)')
    .option('--redis-url <url>', 'Redis for the cache (env SHOPDB_REDIS_URL, REDIS_URL; default redis://127.0.0.1:6379)')
    .option('--redis-cluster', 'the Redis URL names one node of a Redis Cluster (env SHOPDB_REDIS_CLUSTER)')
    .option('--verbose', 'explain what happens on stderr, with stack traces for unexpected errors (env SHOPDB_VERBOSE)')
    .option('--no-color', 'no colour in tables (also NO_COLOR)')
    .addHelpText('after', examples('shopdb local start', 'export SHOPDB_ENDPOINT=http://127.0.0.1:8000', 'shopdb tables create', 'shopdb order create --user u1 --amount 19.99'))
    .showSuggestionAfterError(true);

  const tables = program
    .command('tables')
    .description('create, inspect and delete the tables (orders, carts, idempotency keys)')
    .addHelpText('after', examples('shopdb tables create', 'shopdb tables status'));
  tables
    .command('create')
    .description('create EcommerceOrders and EcommerceCarts (if missing) and wait until they are ACTIVE')
    .addOption(new Option('--billing <mode>', 'capacity mode').choices(['provisioned', 'on-demand']))
    .option('--rcu <n>', 'read capacity units (provisioned; default 5)')
    .option('--wcu <n>', 'write capacity units (provisioned; default 5)')
    .option('--no-stream', 'no streams on new tables, existing streams left as they are (the cache follower then cannot run)')
    .addHelpText('after', examples('shopdb tables create', 'shopdb tables create --billing on-demand', 'shopdb --table-prefix staging- tables create --rcu 10 --wcu 10'))
    .action(async (options: { billing?: string; rcu?: string; wcu?: string; stream?: boolean }, command: Command) => {
      const { tablesCreate } = await import('./commands/tables-create.js');
      await withContext(command, (ctx) => tablesCreate(ctx, options));
    });
  tables
    .command('status')
    .description('show the tables: status, billing mode, item count (exit 3 if one is missing)')
    .addHelpText('after', examples('shopdb tables status', 'shopdb tables status --json | jq -r ".tables[].status"'))
    .action(async (_options: unknown, command: Command) => {
      const { tablesStatus } = await import('./commands/tables-status.js');
      await withContext(command, (ctx) => tablesStatus(ctx));
    });
  tables
    .command('delete')
    .description('delete the tables and all their items')
    .option('--yes', 'confirm the deletion (required)')
    .addHelpText('after', examples('shopdb --table-prefix test- tables delete --yes'))
    .action(async (options: { yes?: boolean }, command: Command) => {
      const { tablesDelete } = await import('./commands/tables-delete.js');
      await withContext(command, (ctx) => tablesDelete(ctx, { yes: options.yes === true }));
    });

  const order = program
    .command('order')
    .description('create, read, move and delete orders')
    .addHelpText('after', examples('shopdb order create --user u1 --amount 19.99', 'shopdb order get ord-1001', 'shopdb order set-status ord-1001 PAID'));
  order
    .command('create')
    .description('create an order in status PENDING; an id is generated when omitted')
    .argument('[orderId]', 'the order id (default: a new time-sortable id)')
    .requiredOption('--user <userId>', 'the user placing the order')
    .requiredOption('--amount <decimal>', 'the total amount, e.g. 59.97 (at most 2 decimals)')
    .addHelpText('after', examples('shopdb order create --user u1 --amount 59.97', 'shopdb order create ord-1001 --user u1 --amount 59.97 --json | jq -r .order.orderId'))
    .action(async (orderId: string | undefined, options: { user: string; amount: string }, command: Command) => {
      const { orderCreate } = await import('./commands/order-create.js');
      await withContext(command, (ctx) => orderCreate(ctx, { orderId, userId: options.user, amount: options.amount }));
    });
  order
    .command('get')
    .description('read an order (eventually consistent unless --strong)')
    .argument('<orderId>', 'the order id')
    .option('--strong', 'strongly consistent read (ConsistentRead); with --cache it bypasses and refreshes the cache')
    .addHelpText('after', examples('shopdb order get ord-1001', 'shopdb order get ord-1001 --strong --json | jq -r .status', 'shopdb order get ord-1001 --cache --verbose'))
    .action(async (orderId: string, options: { strong?: boolean }, command: Command) => {
      const { orderGet } = await import('./commands/order-get.js');
      await withContext(command, (ctx) => orderGet(ctx, { orderId, strong: options.strong === true }));
    });
  order
    .command('set-status')
    .description('move an order, or every order listed in a file (--ids-from), to another status (PENDING, PAID, SHIPPED, COMPLETED, CANCELLED)')
    .usage('[options] <orderId> <status> | --ids-from <file|-> <status>')
    .argument('[orderId]', 'the order id (left out with --ids-from)')
    .argument('[status]', 'the new status')
    .option('--expect <status>', 'change only if the order is currently in this status')
    .option('--force', 'skip the transition rules (still atomic)')
    .option('--ids-from <file|->', 'one order id per line, from a file or - for standard input; one JSON result line per id')
    .option('--concurrency <n>', 'with --ids-from: orders changed at once (default 16, at most 256)')
    .addHelpText('after', examples('shopdb order set-status ord-1001 PAID', 'shopdb order set-status ord-1001 SHIPPED --expect PAID', 'shopdb order set-status --ids-from paid.txt SHIPPED --expect PAID'))
    .action(async (first: string | undefined, second: string | undefined, options: { expect?: string; force?: boolean; idsFrom?: string; concurrency?: string }, command: Command) => {
      const { orderSetStatusCommand } = await import('./commands/order-set-status.js');
      await withContext(command, (ctx) =>
        orderSetStatusCommand(ctx, { first, second, idsFrom: options.idsFrom, expect: options.expect, force: options.force === true, concurrency: options.concurrency }),
      );
    });

  order
    .command('delete')
    .description('delete an order that is CANCELLED or COMPLETED (any with --force), atomically; prints it as it was')
    .argument('<orderId>', 'the order id')
    .option('--expect <status>', 'delete only if the order is currently in this status')
    .option('--force', 'delete whatever its status (still atomic)')
    .addHelpText('after', examples('shopdb order delete ord-1001', 'shopdb order delete ord-1001 --expect PENDING --force'))
    .action(async (orderId: string, options: { expect?: string; force?: boolean }, command: Command) => {
      const { orderDelete } = await import('./commands/order-delete.js');
      await withContext(command, (ctx) => orderDelete(ctx, { orderId, expect: options.expect, force: options.force === true }));
    });

  order
    .command('list')
    .description('list orders newest first: by user (by creation), or by status / every status (by last change)')
    .option('--user <userId>', "the user's orders, newest first; then the ones without a creation date")
    .option('--status <status>', 'only orders in this status')
    .option('--updated-before <iso>', 'only orders last changed before this time, e.g. 2024-05-01T00:00:00Z')
    .option('--limit <n>', 'items per page, 1 to 1000 (default 50)')
    .option('--cursor <cursor>', 'continue a listing where its previous page ended (its nextCursor)')
    .option('--all', 'follow every page and print the orders as NDJSON, one per line')
    .addHelpText('after', examples('shopdb order list --user u1', 'shopdb order list --status PAID --updated-before 2024-05-01', 'shopdb order list --all | jq -r .orderId'))
    .action(async (options: { user?: string; status?: string; updatedBefore?: string; limit?: string; cursor?: string; all?: boolean }, command: Command) => {
      const { orderList } = await import('./commands/order-list.js');
      await withContext(command, (ctx) => orderList(ctx, options));
    });

  addBulkCommands(order, 'order', withContext);

  const cart = program
    .command('cart')
    .description('create, read, edit, check out and delete carts')
    .addHelpText('after', examples('shopdb cart create cart-7 --user u1', 'shopdb cart add-product cart-7 sku-42 --price 19.99', 'shopdb cart get cart-7'));
  cart
    .command('create')
    .description('create an empty cart; an id is generated when omitted')
    .argument('[cartId]', 'the cart id (default: a new time-sortable id)')
    .requiredOption('--user <userId>', 'the user owning the cart')
    .addHelpText('after', examples('shopdb cart create cart-7 --user u1'))
    .action(async (cartId: string | undefined, options: { user: string }, command: Command) => {
      const { cartCreate } = await import('./commands/cart-create.js');
      await withContext(command, (ctx) => cartCreate(ctx, { cartId, userId: options.user }));
    });
  cart
    .command('get')
    .description('read a cart (eventually consistent unless --strong)')
    .argument('<cartId>', 'the cart id')
    .option('--strong', 'strongly consistent read (ConsistentRead); with --cache it bypasses and refreshes the cache')
    .addHelpText('after', examples('shopdb cart get cart-7', 'shopdb cart get cart-7 --json | jq -r .totalAmount'))
    .action(async (cartId: string, options: { strong?: boolean }, command: Command) => {
      const { cartGet } = await import('./commands/cart-get.js');
      await withContext(command, (ctx) => cartGet(ctx, { cartId, strong: options.strong === true }));
    });
  cart
    .command('add-product')
    .description('add a product to a cart atomically (raises the quantity if it is already there)')
    .argument('<cartId>', 'the cart id')
    .argument('<productId>', 'the product id')
    .requiredOption('--price <decimal>', 'unit price, e.g. 19.99')
    .option('--quantity <n>', 'how many (default 1)')
    .option('--name <text>', 'product name, shown in the cart')
    .addHelpText('after', examples('shopdb cart add-product cart-7 sku-42 --price 19.99 --quantity 3 --name "Tea mug"'))
    .action(async (cartId: string, productId: string, options: { price: string; quantity?: string; name?: string }, command: Command) => {
      const { cartAddProduct } = await import('./commands/cart-add-product.js');
      await withContext(command, (ctx) => cartAddProduct(ctx, { cartId, productId, price: options.price, quantity: options.quantity, name: options.name }));
    });

  cart
    .command('remove-product')
    .description('remove a product line from a cart atomically; the total follows')
    .argument('<cartId>', 'the cart id')
    .argument('<productId>', 'the product id')
    .addHelpText('after', examples('shopdb cart remove-product cart-7 sku-42'))
    .action(async (cartId: string, productId: string, _options: unknown, command: Command) => {
      const { cartRemoveProduct } = await import('./commands/cart-edit.js');
      await withContext(command, (ctx) => cartRemoveProduct(ctx, { cartId, productId }));
    });
  cart
    .command('set-quantity')
    .description('set how many of a product the cart holds, atomically (0 removes the line)')
    .argument('<cartId>', 'the cart id')
    .argument('<productId>', 'the product id')
    .argument('<quantity>', 'the new quantity, 0 to 1000000')
    .addHelpText('after', examples('shopdb cart set-quantity cart-7 sku-42 5', 'shopdb cart set-quantity cart-7 sku-42 0'))
    .action(async (cartId: string, productId: string, quantity: string, _options: unknown, command: Command) => {
      const { cartSetQuantity } = await import('./commands/cart-edit.js');
      await withContext(command, (ctx) => cartSetQuantity(ctx, { cartId, productId, quantity }));
    });
  cart
    .command('checkout')
    .description("turn the cart into a PENDING order (its user, lines and total) and mark it CHECKED_OUT, in one transaction")
    .argument('<cartId>', 'the cart id')
    .option('--order-id <orderId>', 'the new order id (default: a new time-sortable id)')
    .addHelpText('after', examples('shopdb cart checkout cart-7', 'shopdb cart checkout cart-7 --order-id ord-1001 --json | jq -r .order.orderId'))
    .action(async (cartId: string, options: { orderId?: string }, command: Command) => {
      const { cartCheckout } = await import('./commands/cart-edit.js');
      await withContext(command, (ctx) => cartCheckout(ctx, { cartId, orderId: options.orderId }));
    });
  cart
    .command('delete')
    .description("delete a cart atomically; a checked-out cart only once its order is COMPLETED or CANCELLED (any with --force)")
    .argument('<cartId>', 'the cart id')
    .option('--force', "delete it even while its order is not final")
    .addHelpText('after', examples('shopdb cart delete cart-7'))
    .action(async (cartId: string, options: { force?: boolean }, command: Command) => {
      const { cartDelete } = await import('./commands/cart-delete.js');
      await withContext(command, (ctx) => cartDelete(ctx, { cartId, force: options.force === true }));
    });
  cart
    .command('list')
    .description("list a user's carts, newest first (then the ones without a creation date)")
    .requiredOption('--user <userId>', 'the user owning the carts')
    .option('--limit <n>', 'items per page, 1 to 1000 (default 50)')
    .option('--cursor <cursor>', 'continue a listing where its previous page ended (its nextCursor)')
    .option('--all', 'follow every page and print the carts as NDJSON, one per line')
    .addHelpText('after', examples('shopdb cart list --user u1', 'shopdb cart list --user u1 --all | jq -r .cartId'))
    .action(async (options: { user: string; limit?: string; cursor?: string; all?: boolean }, command: Command) => {
      const { cartList } = await import('./commands/cart-list.js');
      await withContext(command, (ctx) => cartList(ctx, options));
    });

  addBulkCommands(cart, 'cart', withContext);

  const cache = program
    .command('cache')
    .description('manage the Redis cache')
    .addHelpText('after', examples('shopdb cache flush --yes', 'shopdb cache follow'));
  cache
    .command('flush')
    .description("remove shopdb's cached items of these tables and this endpoint/region from Redis, and nothing else")
    .option('--yes', 'confirm the flush (required)')
    .addHelpText('after', examples('shopdb cache flush --yes', 'shopdb --redis-url redis://cache.internal:6379 --table-prefix staging- cache flush --yes --json'))
    .action(async (options: { yes?: boolean }, command: Command) => {
      // The flush always talks to Redis: the configured URL, else the default one, as with --cache.
      command.setOptionValue('cache', true);
      const { cacheFlush } = await import('./commands/cache-flush.js');
      await withContext(command, (ctx) => cacheFlush(ctx, { yes: options.yes === true }));
    });

  cache
    .command('follow')
    .description("keep the cache in line with every change to the tables, whoever makes it, by following their DynamoDB streams, until stopped")
    .option('--lease-seconds <s>', 'a shard whose follower stops renewing for this long is taken over by another (default 10)')
    .option('--report-seconds <s>', 'how often to log the records applied and the lag (default 10)')
    .addHelpText('after', examples('shopdb cache follow', 'shopdb --redis-url redis://cache.internal:6379 cache follow --verbose'))
    .action(async (options: { leaseSeconds?: string; reportSeconds?: string }, command: Command) => {
      // Like flush, it always talks to Redis: the configured URL, else the default one.
      command.setOptionValue('cache', true);
      const { cacheFollow } = await import('./commands/cache-follow.js');
      await withContext(command, (ctx) => cacheFollow(ctx, options));
    });

  program
    .command('serve')
    .description('run the HTTP API (orders and carts over HTTP, see the README) until stopped')
    .option('--host <address>', 'address to listen on (default 127.0.0.1; any other needs a token)')
    .option('--port <n>', 'port to listen on (default 8080; 0 picks a free one)')
    .option('--token-file <file>', 'file holding the bearer token every /v1 route and /metrics require (or set SHOPDB_API_TOKEN)')
    .option('--body-limit <bytes>', 'largest request body accepted (default 65536)')
    .option('--shutdown-timeout <s>', 'on SIGTERM/SIGINT, how long requests in flight may take to finish (default 10)')
    .option('--request-timeout <s>', 'how long one request may take to arrive and be answered (default 30)')
    .option('--log-level <level>', 'fatal, error, warn, info (default), debug, trace or silent; logs are JSON lines on stderr')
    .option('--follow', "also run the cache follower (as cache follow does): reads through the cache (implies --cache)")
    .option('--follow-lease-seconds <s>', "with --follow: a shard whose follower stops renewing for this long is taken over by another (default 10)")
    .addHelpText(
      'after',
      examples(
        'shopdb serve --cache',
        'shopdb --redis-url redis://cache.internal:6379 serve --follow',
        'SHOPDB_API_TOKEN=$(openssl rand -hex 32) shopdb serve --host 0.0.0.0 --port 8080',
        'curl -s localhost:8080/v1/orders/o-1',
      ),
    )
    .action(async (options: { host?: string; port?: string; tokenFile?: string; bodyLimit?: string; shutdownTimeout?: string; requestTimeout?: string; logLevel?: string; follow?: boolean; followLeaseSeconds?: string }, command: Command) => {
      // The follower needs Redis (the configured URL, else the default one) and is there for cached reads: --follow implies --cache.
      if (options.follow === true) command.setOptionValue('cache', true);
      const { serve } = await import('./commands/serve.js');
      await withContext(command, (ctx) => serve(ctx, options));
    });

  const local = program
    .command('local')
    .description('run the bundled DynamoDB Local in the background')
    .addHelpText('after', examples('shopdb local start', 'shopdb local status', 'shopdb local stop'));
  local
    .command('start')
    .description('start DynamoDB Local (no-op if it already runs) and wait until it answers')
    .option('--port <n>', 'port on 127.0.0.1 (default 8000; 0 picks a free one)')
    .option('--in-memory', 'keep no data on disk')
    .option('--data-dir <dir>', 'where to keep the data (default: $SHOPDB_HOME/dynamodb, else $XDG_DATA_HOME/shopdb/dynamodb, else ~/.local/share/shopdb/dynamodb)')
    .addHelpText('after', ({ command }) => fitHelpLines(LOCAL_HOME_HELP, command.configureOutput().getOutHelpWidth?.()))
    .addHelpText('after', examples('shopdb local start', 'shopdb local start --in-memory --port 0 --json | jq -r .endpoint', 'SHOPDB_HOME=/tmp/shopdb-ci shopdb local start --in-memory --port 0'))
    .action(async (options: { port?: string; inMemory?: boolean; dataDir?: string }, command: Command) => {
      const { localStart } = await import('./commands/local-start.js');
      await withContext(command, (ctx) => localStart(ctx, { port: options.port, inMemory: options.inMemory === true, dataDir: options.dataDir }));
    });
  local
    .command('stop')
    .description('stop the DynamoDB Local that `shopdb local start` started')
    .addHelpText('after', examples('shopdb local stop'))
    .action(async (_options: unknown, command: Command) => {
      const { localStop } = await import('./commands/local-stop.js');
      await withContext(command, (ctx) => localStop(ctx));
    });
  local
    .command('status')
    .description('say whether DynamoDB Local runs, and where (exit 3 if not)')
    .addHelpText('after', examples('shopdb local status'))
    .action(async (_options: unknown, command: Command) => {
      const { localStatus } = await import('./commands/local-status.js');
      await withContext(command, (ctx) => localStatus(ctx));
    });

  const config = program.command('config').description('show the settings shopdb uses').addHelpText('after', examples('shopdb config show', 'shopdb config show --json | jq -r .endpoint.source'));
  config
    .command('show')
    .description('the effective endpoint, region, credentials source, tables, output, timeout and cache, each with where it came from (contacts nothing)')
    .addHelpText('after', examples('shopdb config show', 'shopdb --table-prefix staging- config show --json | jq -r .ordersTable.value'))
    .action(async (_options: unknown, command: Command) => {
      const { configShow } = await import('./commands/config-show.js');
      await withContext(command, (ctx) => configShow(ctx));
    });

  program
    .command('completion')
    .description('print a shell completion script generated from the commands (bash, zsh or fish; zsh: load it after compinit)')
    .addArgument(
      new Argument('<shell>', 'the shell: bash, zsh or fish')
        // The choices are for the help and the completion scripts; the parser words the refusal as every other bad input.
        .choices(SHELLS)
        .argParser((shell) => {
          if (!(SHELLS as readonly string[]).includes(shell)) throw badInput('shell', `${quote(shell, 20)} is not a supported shell; use one of ${SHELLS.join(', ')}`);
          return shell;
        }),
    )
    .addHelpText(
      'after',
      // No trailing comments: a narrow terminal continues a long example with \, which would swallow the next line into the comment.
      examples('source <(shopdb completion bash)', 'source <(shopdb completion zsh)', 'shopdb completion fish > ~/.config/fish/completions/shopdb.fish'),
    )
    .action(async (shell: 'bash' | 'zsh' | 'fish') => {
      const { completionScript } = await import('./completion.js');
      io.writeOut(completionScript(program, shell));
    });

  addHelpCommands(program);
  return program;
}

/** Where `shopdb local` keeps its state, as src/local/state.ts resolves it. */
const LOCAL_HOME_HELP = `
Environment:
  SHOPDB_HOME  directory for the engine's state: engine.json (the running
               engine's pid, port and endpoint), engine.lock (held while an
               engine starts or stops) and dynamodb-local.log; its data goes
               to SHOPDB_HOME/dynamodb unless --data-dir or --in-memory.
               Default: $XDG_STATE_HOME/shopdb, else ~/.local/state/shopdb.
               local stop and local status must see the same SHOPDB_HOME.
`;

/** Commander's option description, with "(required)" after an option the command cannot run without. */
function markedRequired(this: Help, option: Option): string {
  const description = Help.prototype.optionDescription.call(this, option);
  return option.mandatory && !/\(required\)/.test(description) ? `${description} (required)` : description;
}

/**
 * `help [command...]` on the program and on every group (`shopdb help order
 * create`, `shopdb order help create`): the named command's help on stdout,
 * exit 0. Commander's own help command takes one word only, and ends like a
 * usage error.
 */
function addHelpCommands(parent: Command): void {
  const groups = parent.commands.filter((command) => command.commands.length > 0);
  parent
    .command('help')
    .description('show the help of a command, e.g. help order create')
    .argument('[command...]', 'the command, one word per level')
    .action((words: string[]) => {
      let target = parent;
      for (const word of words) {
        const next = target.commands.find((command) => command.name() === word || command.aliases().includes(word));
        if (next === undefined || next.name() === 'help') {
          const known = target.commands.map((command) => command.name()).filter((name) => name !== 'help');
          throw badInput('command', `${quote(word)} is not a command of ${target.name()}${known.length > 0 ? `; use one of ${known.join(', ')}` : ''}`);
        }
        target = next;
      }
      target.outputHelp();
    });
  for (const group of groups) addHelpCommands(group);
}

/**
 * Commander's help, fitted to the terminal: commander wraps descriptions only
 * when 40 columns remain beside the terms, so narrower lines are wrapped here,
 * under their description column; examples are continued with a shell `\\`
 * so that each stays one command to copy.
 */
function fittedHelp(this: Help, command: Command, helper: Help): string {
  return fitHelpLines(Help.prototype.formatHelp.call(this, command, helper), helper.helpWidth);
}

function fitHelpLines(text: string, columns: number | undefined): string {
  const width = usableColumns(columns);
  if (width === undefined) return text;
  return text
    .split('\n')
    .flatMap((line) => {
      if (displayWidth(line) <= width) return [line];
      if (line.startsWith('  $ ')) {
        // Never break inside a quoted argument: a continuation there would change the argument.
        const guarded = line.replace(/"[^"]*"/g, (quoted) => quoted.replace(/ /g, '\u00a0'));
        return wrap(guarded, width, { indent: 6, before: ' \\' }).map((part) => part.replace(/\u00a0/g, ' '));
      }
      const item = /^( +)(\S.*?)(  +)(\S.*)$/.exec(line);
      if (item === null) return wrap(line, width, { indent: (/^ */.exec(line)?.[0].length ?? 0) + 2 });
      const [, lead = '', term = '', gap = '', description = ''] = item;
      const column = displayWidth(lead + term + gap);
      // A term column past half the width leaves too little room: the description goes below the term.
      if (column > width / 2) return [`${lead}${term}`, ...wrap(`${lead}    ${description}`, width, { indent: lead.length + 4 })];
      return wrap(line, width, { indent: column });
    })
    .join('\n');
}

function addBulkCommands(group: Command, kind: 'order' | 'cart', withContext: WithContext): void {
  group
    .command('import')
    .description(`import ${kind}s from newline-delimited JSON (the shape \`${kind} get --json\` and \`${kind} export\` print)`)
    .argument('[file]', 'an NDJSON file, or - for standard input (the default)')
    .option('--strict', 'validate every line first and write nothing if any is invalid')
    .option('--overwrite', `replace ${kind}s that already exist (default: skip them)`)
    .option('--concurrency <n>', 'batches in flight at once (default 8)')
    .option('--quiet', 'no warning or error per line (invalid lines, existing ids); the summary and the final error still print')
    .addHelpText('after', examples(`shopdb ${kind} import ${kind}s.ndjson`, `shopdb --table-prefix prod- ${kind} export | shopdb --table-prefix staging- ${kind} import --overwrite`))
    .action(async (file: string | undefined, options: { strict?: boolean; overwrite?: boolean; concurrency?: string; quiet?: boolean }, command: Command) => {
      const { bulkImport } = kind === 'order' ? await import('./commands/order-import.js') : await import('./commands/cart-import.js');
      await withContext(command, (ctx) =>
        bulkImport(ctx, { file, strict: options.strict === true, overwrite: options.overwrite === true, concurrency: options.concurrency, quiet: options.quiet === true }),
      );
    });
  group
    .command('export')
    .description(`print every ${kind} as newline-delimited JSON, read by parallel scans`)
    .option('--segments <n>', 'parallel scan segments (default 4)')
    .addHelpText('after', examples(`shopdb ${kind} export > ${kind}s.ndjson`, `shopdb ${kind} export --segments 8 | wc -l`))
    .action(async (options: { segments?: string }, command: Command) => {
      const { bulkExport } = kind === 'order' ? await import('./commands/order-export.js') : await import('./commands/cart-export.js');
      await withContext(command, (ctx) => bulkExport(ctx, options.segments));
    });
}
