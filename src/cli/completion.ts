import type { Command, Option } from 'commander';
import { ORDER_STATUSES } from '../core/status.js';

/**
 * Shell completion scripts generated from the command tree: whatever
 * program.ts registers (commands, options, arguments, choices) is completed,
 * with no list of commands kept here.
 *
 * Every script has the same parts: data functions generated from the tree
 * (subcommands, options, what an option's value or an argument may be) and a
 * fixed walker that reads the words typed so far to find the command they
 * name. bash and zsh share the data functions and the walker (both run the
 * same POSIX-style `case` and `[[ ]]`); fish gets its own syntax.
 */

export type Shell = 'bash' | 'zsh' | 'fish';

/** What a value may be: words to offer, file names, or anything (nothing offered). */
type Values = { kind: 'words'; words: string[] } | { kind: 'file' } | { kind: 'any' };

interface OptionSpec {
  /** The long and short spellings, e.g. ['--expect'] or ['-h', '--help']. */
  names: string[];
  description: string;
  /** Undefined for a flag without a value. */
  value: Values | undefined;
}

interface CommandSpec {
  /** Words from the program to this command, e.g. ['order', 'set-status']; [] for the program. */
  path: string[];
  subcommands: Array<{ name: string; description: string }>;
  options: OptionSpec[];
  args: Array<{ values: Values; variadic: boolean }>;
}

/** The completion script for `shell`, for the tree under `program`. */
export function completionScript(program: Command, shell: Shell): string {
  const specs = collect(program, []);
  const [root] = specs;
  const global = root?.options ?? [];
  const name = program.name();
  return shell === 'fish' ? fishScript(name, specs, global) : shell === 'zsh' ? zshScript(name, specs, global) : bashScript(name, specs, global);
}

function collect(command: Command, path: string[]): CommandSpec[] {
  const help = command.createHelp();
  const subcommands = help.visibleCommands(command);
  const spec: CommandSpec = {
    path,
    subcommands: subcommands.map((sub) => ({ name: sub.name(), description: oneLine(sub.description()) })),
    options: help.visibleOptions(command).map(optionSpec),
    args: command.registeredArguments.map((argument) => ({ values: valuesFor(argument.name(), argument.argChoices), variadic: argument.variadic })),
  };
  // The implicit help command is not in `commands`; an explicit one is.
  return [spec, ...command.commands.filter((sub) => !(sub as Command & { _hidden?: boolean })._hidden).flatMap((sub) => collect(sub, [...path, sub.name()]))];
}

function optionSpec(option: Option): OptionSpec {
  const names = [option.short, option.long].filter((flag): flag is string => flag !== undefined);
  const takesValue = option.required || option.optional;
  const placeholder = /[<[]([^>\]]+)[>\]]/.exec(option.flags)?.[1] ?? '';
  const valueName = option.long === '--status' ? 'status' : placeholder;
  return { names, description: oneLine(option.description), value: takesValue ? valuesFor(valueName, option.argChoices) : undefined };
}

/**
 * Choices declared to commander are offered as they are; a value named
 * `status` (an argument, `--expect <status>`, `--status`) is one of the
 * order statuses (parsed by parseStatus, which suggests instead of commander
 * refusing); a value named like a file or directory completes file names.
 */
function valuesFor(valueName: string, choices: readonly string[] | undefined): Values {
  if (choices !== undefined && choices.length > 0) return { kind: 'words', words: [...choices] };
  if (/^status(es)?$/i.test(valueName)) return { kind: 'words', words: [...ORDER_STATUSES] };
  if (/file|dir|path/i.test(valueName)) return { kind: 'file' };
  return { kind: 'any' };
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

// ---------- bash and zsh (shared data functions and walker) ----------

function sh(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

function valueLines(values: Values, quote: (text: string) => string): string {
  if (values.kind === 'file') return `printf '%s\\n' __file__`;
  if (values.kind === 'any') return ':';
  return `printf '%s\\n' ${values.words.map(quote).join(' ')}`;
}

function pairs(rows: Array<[string, string]>, quote: (text: string) => string): string {
  return rows.length === 0 ? ':' : `printf '%s\\t%s\\n' ${rows.map(([word, description]) => `${quote(word)} ${quote(description)}`).join(' ')}`;
}

function optionRows(options: OptionSpec[]): Array<[string, string]> {
  return options.flatMap((option) => option.names.map((name): [string, string] => [name, option.description]));
}

/** The data functions, prefixed `fn` (e.g. _shopdb), in POSIX-style shell that bash and zsh both run. */
function shellData(fn: string, specs: CommandSpec[], global: OptionSpec[]): string {
  const key = (spec: CommandSpec) => sh(spec.path.join(' '));
  const globalNames = new Set(global.flatMap((option) => option.names));
  const lines: string[] = [];

  lines.push(`# Subcommands of a command path, as "name<TAB>description" lines.`, `${fn}_commands() {`, '  case "$1" in');
  for (const spec of specs.filter((candidate) => candidate.subcommands.length > 0)) {
    lines.push(`    ${key(spec)}) ${pairs(spec.subcommands.map((sub) => [sub.name, sub.description]), sh)} ;;`);
  }
  lines.push('  esac', '}', '');

  lines.push(`# Options of a command path (its own, then the global ones), as "option<TAB>description" lines.`, `${fn}_options() {`, '  case "$1" in');
  for (const spec of specs.filter((candidate) => candidate.path.length > 0)) {
    const own = spec.options.filter((option) => !option.names.some((name) => globalNames.has(name)));
    if (own.length > 0) lines.push(`    ${key(spec)}) ${pairs(optionRows(own), sh)} ;;`);
  }
  lines.push('  esac', `  ${pairs(optionRows(global), sh)}`, '}', '');

  lines.push(
    `# What the value of option $2 under command path $1 may be (one per line; __file__ for file names); fails for an option without a value.`,
    `${fn}_value() {`,
    '  case "$1|$2" in',
  );
  for (const spec of specs.filter((candidate) => candidate.path.length > 0)) {
    for (const option of spec.options) {
      if (option.value === undefined || option.names.some((name) => globalNames.has(name))) continue;
      lines.push(`    ${option.names.map((name) => sh(`${spec.path.join(' ')}|${name}`)).join(' | ')}) ${valueLines(option.value, sh)} ;;`);
    }
  }
  for (const option of global) {
    if (option.value === undefined) continue;
    lines.push(`    ${option.names.map((name) => `*${sh(`|${name}`)}`).join(' | ')}) ${valueLines(option.value, sh)} ;;`);
  }
  lines.push('    *) return 1 ;;', '  esac', '}', '');

  lines.push(`# What argument number $2 (from 0) of command path $1 may be (one per line; __file__ for file names).`, `${fn}_arg() {`, '  case "$1|$2" in');
  for (const spec of specs) {
    spec.args.forEach((argument, index) => {
      if (argument.values.kind === 'any') return;
      const pattern = argument.variadic ? `${sh(`${spec.path.join(' ')}|`)}*` : sh(`${spec.path.join(' ')}|${index}`);
      lines.push(`    ${pattern}) ${valueLines(argument.values, sh)} ;;`);
    });
  }
  lines.push('  esac', '}', '');
  return lines.join('\n');
}

/** The walker and candidate logic shared by bash and zsh: plain `case`, `[[ ]]` and `(( ))`. */
function shellWalker(fn: string): string {
  return `# Reads the words before the cursor (program name excluded): sets ${fn}_path (the command they name),
# ${fn}_nargs (arguments given to it), ${fn}_helping (after \`help\`) and ${fn}_pending (an option awaiting its value).
${fn}_walk() {
  ${fn}_path='' ${fn}_nargs=0 ${fn}_helping=0 ${fn}_pending=''
  local w
  for w in "$@"; do
    if [[ -n $${fn}_pending ]]; then ${fn}_pending=''; continue; fi
    case "$w" in
      --*=*) continue ;;
      -?*) if ${fn}_value "$${fn}_path" "$w" >/dev/null; then ${fn}_pending="$w"; fi; continue ;;
    esac
    if (( ${fn}_nargs == 0 )) && ${fn}_is_command "$${fn}_path" "$w"; then
      if [[ $w == help ]] && (( ! ${fn}_helping )); then ${fn}_helping=1; else ${fn}_path="\${${fn}_path:+$${fn}_path }$w"; fi
    else
      ${fn}_nargs=$(( ${fn}_nargs + 1 ))
    fi
  done
}

${fn}_is_command() {
  local line
  while IFS= read -r line; do
    [[ "\${line%%$'\\t'*}" == "$2" ]] && return 0
  done < <(${fn}_commands "$1")
  return 1
}

# Candidates for the current word $1 after ${fn}_walk, as "word<TAB>description" or "word" lines, or __file__.
${fn}_candidates() {
  if [[ -n $${fn}_pending ]]; then ${fn}_value "$${fn}_path" "$${fn}_pending"; return 0; fi
  local line found=0
  if (( ${fn}_helping )); then
    while IFS= read -r line; do [[ $line == help$'\\t'* ]] || printf '%s\\n' "$line"; done < <(${fn}_commands "$${fn}_path")
    return 0
  fi
  if [[ $1 == -* ]]; then ${fn}_options "$${fn}_path"; return 0; fi
  if (( ${fn}_nargs == 0 )); then
    while IFS= read -r line; do found=1; printf '%s\\n' "$line"; done < <(${fn}_commands "$${fn}_path")
    (( found )) && return 0
  fi
  while IFS= read -r line; do found=1; printf '%s\\n' "$line"; done < <(${fn}_arg "$${fn}_path" "$${fn}_nargs")
  (( found )) || ${fn}_options "$${fn}_path"
}
`;
}

function bashScript(name: string, specs: CommandSpec[], global: OptionSpec[]): string {
  const fn = `_${name.replace(/[^A-Za-z0-9_]/g, '_')}`;
  return `# bash completion for ${name}, generated from its command tree by \`${name} completion bash\`.
# Load it with:  source <(${name} completion bash)   (or save it in ~/.local/share/bash-completion/completions/${name})

${shellData(fn, specs, global)}
${shellWalker(fn)}
${fn}() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" w i glue=0 line words='' files=0
  local -a before=()
  # bash splits words at = and : (COMP_WORDBREAKS): glue --endpoint=http://host:8000 back together.
  for (( i = 1; i < COMP_CWORD; i++ )); do
    w="\${COMP_WORDS[i]}"
    if [[ $w == '=' || $w == ':' ]] || (( glue )); then
      if (( \${#before[@]} )); then before[\${#before[@]}-1]+="$w"; else before+=("$w"); fi
      if [[ $w == '=' || $w == ':' ]]; then glue=1; else glue=0; fi
      continue
    fi
    before+=("$w")
  done
  ${fn}_walk "\${before[@]}"
  while IFS= read -r line; do
    if [[ $line == __file__ ]]; then files=1; else words+=" \${line%%$'\\t'*}"; fi
  done < <(${fn}_candidates "$cur")
  COMPREPLY=()
  if [[ -n $words ]]; then
    while IFS= read -r line; do [[ -n $line ]] && COMPREPLY+=("$line"); done < <(compgen -W "$words" -- "$cur")
  fi
  if (( files )); then
    compopt -o filenames 2>/dev/null
    while IFS= read -r line; do [[ -n $line ]] && COMPREPLY+=("$line"); done < <(compgen -f -- "$cur")
  fi
  return 0
}

complete -F ${fn} ${name}
`;
}

function zshScript(name: string, specs: CommandSpec[], global: OptionSpec[]): string {
  const fn = `_${name.replace(/[^A-Za-z0-9_]/g, '_')}`;
  return `#compdef ${name}
# zsh completion for ${name}, generated from its command tree by \`${name} completion zsh\`.
# Load it with:  source <(${name} completion zsh)   (after compinit; or save it as _${name} in a directory on $fpath)

${shellData(fn, specs, global)}
${shellWalker(fn)}
${fn}() {
  local line word description files=0
  local -a described
  ${fn}_walk "\${(@)words[2,CURRENT-1]}"
  while IFS= read -r line; do
    if [[ $line == __file__ ]]; then files=1; continue; fi
    word="\${line%%$'\\t'*}"
    description=''
    [[ $line == *$'\\t'* ]] && description="\${line#*$'\\t'}"
    described+=("\${word//:/\\\\:}\${description:+:$description}")
  done < <(${fn}_candidates "\${words[CURRENT]}")
  (( files )) && _files
  (( \${#described} )) && _describe -t values ${sh(name)} described
  return 0
}

if (( $+functions[compdef] )); then
  compdef ${fn} ${name}
fi
`;
}

// ---------- fish ----------

function fishQuote(text: string): string {
  return `'${text.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

function fishScript(name: string, specs: CommandSpec[], global: OptionSpec[]): string {
  const fn = `__${name.replace(/[^A-Za-z0-9_]/g, '_')}`;
  const globalNames = new Set(global.flatMap((option) => option.names));
  const q = fishQuote;
  const lines: string[] = [
    `# fish completion for ${name}, generated from its command tree by \`${name} completion fish\`.`,
    `# Load it with:  ${name} completion fish | source   (or save it as ~/.config/fish/completions/${name}.fish)`,
    '',
    `function ${fn}_commands`,
    '    switch "$argv[1]"',
  ];
  for (const spec of specs.filter((candidate) => candidate.subcommands.length > 0)) {
    lines.push(`        case ${q(spec.path.join(' '))}`, `            ${pairs(spec.subcommands.map((sub) => [sub.name, sub.description]), q)}`);
  }
  lines.push('    end', 'end', '', `function ${fn}_options`, '    switch "$argv[1]"');
  for (const spec of specs.filter((candidate) => candidate.path.length > 0)) {
    const own = spec.options.filter((option) => !option.names.some((optionName) => globalNames.has(optionName)));
    if (own.length > 0) lines.push(`        case ${q(spec.path.join(' '))}`, `            ${pairs(optionRows(own), q)}`);
  }
  lines.push('    end', `    ${pairs(optionRows(global), q)}`, 'end', '', `function ${fn}_value`, '    switch "$argv[1]|$argv[2]"');
  for (const spec of specs.filter((candidate) => candidate.path.length > 0)) {
    for (const option of spec.options) {
      if (option.value === undefined || option.names.some((optionName) => globalNames.has(optionName))) continue;
      lines.push(`        case ${option.names.map((optionName) => q(`${spec.path.join(' ')}|${optionName}`)).join(' ')}`, `            ${fishValues(option.value)}`);
    }
  }
  for (const option of global) {
    if (option.value === undefined) continue;
    lines.push(`        case ${option.names.map((optionName) => `'*'${q(`|${optionName}`)}`).join(' ')}`, `            ${fishValues(option.value)}`);
  }
  lines.push('        case \'*\'', '            return 1', '    end', 'end', '', `function ${fn}_arg`, '    switch "$argv[1]|$argv[2]"');
  for (const spec of specs) {
    spec.args.forEach((argument, index) => {
      if (argument.values.kind === 'any') return;
      const pattern = argument.variadic ? `${q(`${spec.path.join(' ')}|`)}'*'` : q(`${spec.path.join(' ')}|${index}`);
      lines.push(`        case ${pattern}`, `            ${fishValues(argument.values)}`);
    });
  }
  lines.push('    end', 'end', '');
  lines.push(`function ${fn}_is_command
    for line in (${fn}_commands $argv[1])
        if test (string split -f1 \\t -- $line) = "$argv[2]"
            return 0
        end
    end
    return 1
end

# Reads the words before the cursor (program name excluded), as the bash/zsh walker does.
function ${fn}_walk
    set -g ${fn}_path ''
    set -g ${fn}_nargs 0
    set -g ${fn}_helping 0
    set -g ${fn}_pending ''
    for w in $argv
        if test -n "$${fn}_pending"
            set -g ${fn}_pending ''
            continue
        end
        switch $w
            case '--*=*'
                continue
            case '-?*'
                if ${fn}_value "$${fn}_path" $w >/dev/null
                    set -g ${fn}_pending $w
                end
                continue
        end
        if test $${fn}_nargs -eq 0; and ${fn}_is_command "$${fn}_path" $w
            if test "$w" = help; and test $${fn}_helping -eq 0
                set -g ${fn}_helping 1
            else if test -n "$${fn}_path"
                set -g ${fn}_path "$${fn}_path $w"
            else
                set -g ${fn}_path $w
            end
        else
            set -g ${fn}_nargs (math $${fn}_nargs + 1)
        end
    end
end

function ${fn}_candidates
    if test -n "$${fn}_pending"
        ${fn}_value "$${fn}_path" "$${fn}_pending"
        return 0
    end
    if test $${fn}_helping -eq 1
        ${fn}_commands "$${fn}_path" | string match -v -- help\\t'*'
        return 0
    end
    if string match -q -- '-*' "$argv[1]"
        ${fn}_options "$${fn}_path"
        return 0
    end
    if test $${fn}_nargs -eq 0
        set -l found (${fn}_commands "$${fn}_path")
        if test (count $found) -gt 0
            printf '%s\\n' $found
            return 0
        end
    end
    set -l found (${fn}_arg "$${fn}_path" $${fn}_nargs)
    if test (count $found) -gt 0
        printf '%s\\n' $found
    else
        ${fn}_options "$${fn}_path"
    end
end

function ${fn}_complete
    set -l tokens (commandline -opc)
    set -l cur (commandline -ct)
    ${fn}_walk $tokens[2..]
    for line in (${fn}_candidates "$cur")
        if test "$line" = __file__
            __fish_complete_path "$cur"
        else
            printf '%s\\n' $line
        end
    end
end

complete -c ${name} -e
complete -c ${name} -f -a '(${fn}_complete)'
`);
  return lines.join('\n');
}

function fishValues(values: Values): string {
  if (values.kind === 'file') return `printf '%s\\n' __file__`;
  if (values.kind === 'any') return 'true';
  return `printf '%s\\n' ${values.words.map(fishQuote).join(' ')}`;
}
