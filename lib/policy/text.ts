// A vcluster.yaml from bytes or text to plain values, treating the document as hostile (SPEC section 9): its size,
// encoding, nesting and alias expansion are bounded before the YAML library builds anything, so one tenant's config
// costs the worker bounded time and memory and ends as that cluster's error, never as an exception.
import { CST, Lexer, LineCounter, Parser, parseDocument, type YAMLError } from 'yaml';
import type { ConfigIssue } from './issues';
import { MAX_ALIAS_EXPANSION, MAX_CONFIG_BYTES, MAX_CONFIG_DEPTH, MAX_CONFIG_VALUES, MAX_MAPPING_KEYS } from './limits';

export type TextResult = { ok: true; text: string } | { ok: false; errors: ConfigIssue[] };
export type ValuesResult = { ok: true; values: unknown } | { ok: false; errors: ConfigIssue[] };

/** A page of YAML errors is enough to fix a document; a broken half-MiB one could have thousands. */
const MAX_YAML_ERRORS = 10;

function documentIssue(message: string): ConfigIssue[] {
  return [{ path: '', message }];
}

function formatBytes(bytes: number): string {
  return bytes < 1024 ? `${bytes} bytes` : `${Math.ceil(bytes / 1024)} KiB`;
}

function tooLarge(bytes: number): ConfigIssue[] {
  return documentIssue(
    `the vcluster.yaml is ${formatBytes(bytes)}, more than the ${formatBytes(MAX_CONFIG_BYTES)} read (a vCluster's complete values are tens of KiB)`,
  );
}

/** Strict UTF-8 text of a config's bytes (e.g. a Secret's `config.yaml`); invalid bytes are an error, not U+FFFD. */
export function decodeConfigBytes(bytes: Uint8Array): TextResult {
  if (bytes.byteLength > MAX_CONFIG_BYTES) return { ok: false, errors: tooLarge(bytes.byteLength) };
  try {
    return { ok: true, text: new TextDecoder('utf-8', { fatal: true }).decode(bytes) };
  } catch {
    const offset = firstInvalidUtf8Byte(bytes);
    return { ok: false, errors: documentIssue(`the vcluster.yaml is not valid UTF-8 text (invalid byte 0x${bytes[offset]?.toString(16).padStart(2, '0')} at byte offset ${offset})`) };
  }
}

/** Where a lossy decode first differs from the input: valid sequences (U+FFFD included) re-encode to themselves. */
function firstInvalidUtf8Byte(bytes: Uint8Array): number {
  const reencoded = Buffer.from(Buffer.from(bytes).toString('utf8'), 'utf8');
  let offset = 0;
  while (offset < bytes.length && bytes[offset] === reencoded[offset]) offset += 1;
  return offset;
}

/** YAML 1.1 text (as Helm reads values: `enabled: yes` is true) to plain values, or document-level issues. */
export function parseYamlValues(yamlText: string): ValuesResult {
  const bytes = Buffer.byteLength(yamlText, 'utf8');
  if (bytes > MAX_CONFIG_BYTES) return { ok: false, errors: tooLarge(bytes) };
  const screened = screenSyntax(yamlText);
  if (screened.length > 0) return { ok: false, errors: screened };
  const lineCounter = new LineCounter();
  // logLevel 'error': the library's warnings (e.g. a collection used as a key) would print tenant text to the log.
  const document = parseDocument(yamlText, { version: '1.1', prettyErrors: false, lineCounter, logLevel: 'error' });
  if (document.errors.length > 0) return { ok: false, errors: yamlErrors(document.errors, lineCounter) };
  try {
    return { ok: true, values: document.toJS({ maxAliasCount: MAX_ALIAS_EXPANSION }) };
  } catch (err) {
    // The library throws (a ReferenceError) when aliases expand past maxAliasCount: a "billion laughs" document.
    const why = err instanceof ReferenceError ? `YAML aliases (*name) expand to more than ${MAX_ALIAS_EXPANSION} nodes` : 'the YAML could not be converted to values';
    return { ok: false, errors: documentIssue(`invalid YAML: ${why}; write the values out instead of repeating anchors`) };
  }
}

// Lexical tokens that each become one value: scalars, aliases and flow collections (block collections hold scalars).
const VALUE_TOKENS = new Set(['scalar', 'single-quoted-scalar', 'double-quoted-scalar', 'alias', 'flow-map-start', 'flow-seq-start']);

/**
 * What would make building the document itself costly, found in one pass over the concrete syntax before anything
 * is built: nesting deeper than MAX_CONFIG_DEPTH (the library's composer recurses per level), more than
 * MAX_CONFIG_VALUES values (building costs about 10 µs each), a mapping with more than MAX_MAPPING_KEYS keys (the
 * duplicate-key check is quadratic), or a page of syntax errors (a broken half-MiB document has hundreds of
 * thousands, each an Error object). The concrete-syntax parser keeps its open collections on an explicit stack, so
 * driving it token by token stops at the first offence.
 */
function screenSyntax(yamlText: string): ConfigIssue[] {
  const parser = new Parser();
  const syntaxErrors: Array<{ offset: number; message: string }> = [];
  let values = 0;
  const at = (offset: number, message: string): ConfigIssue => {
    const { line, col } = linePosition(yamlText, offset);
    return { path: '', message: `invalid YAML at line ${line}, column ${col}: ${message}` };
  };
  for (const lexeme of new Lexer().lex(yamlText)) {
    if (VALUE_TOKENS.has(CST.tokenType(lexeme) ?? '') && ++values > MAX_CONFIG_VALUES) {
      return [at(parser.offset, `more than ${MAX_CONFIG_VALUES} values (far more than a vCluster's complete values hold)`)];
    }
    for (const token of parser.next(lexeme)) {
      if (token.type === 'error') syntaxErrors.push({ offset: token.offset, message: token.message });
    }
    if (syntaxErrors.length > MAX_YAML_ERRORS) {
      const shown = syntaxErrors.slice(0, MAX_YAML_ERRORS).map(({ offset, message }) => at(offset, message));
      shown[shown.length - 1].message += ' (and more YAML errors)';
      return shown;
    }
    // The stack holds the document and the token being read besides the open mappings and lists.
    if (parser.stack.length - 1 > MAX_CONFIG_DEPTH && openCollections(parser) > MAX_CONFIG_DEPTH) {
      return [at(parser.offset, `nested deeper than ${MAX_CONFIG_DEPTH} levels of mappings and lists`)];
    }
    const open = parser.stack[parser.stack.length - 1];
    const isMapping = open?.type === 'block-map' || (open?.type === 'flow-collection' && open.start.source === '{');
    if (isMapping && open.items.length > MAX_MAPPING_KEYS) return [at(parser.offset, `a mapping with more than ${MAX_MAPPING_KEYS} keys`)];
  }
  return [];
}

function openCollections(parser: Parser): number {
  return parser.stack.filter((token) => token.type === 'block-map' || token.type === 'block-seq' || token.type === 'flow-collection').length;
}

function linePosition(text: string, offset: number): { line: number; col: number } {
  const before = text.slice(0, offset);
  const lineStart = before.lastIndexOf('\n') + 1;
  return { line: before.split('\n').length, col: offset - lineStart + 1 };
}

function yamlErrors(errors: ReadonlyArray<YAMLError>, lineCounter: LineCounter): ConfigIssue[] {
  const shown = errors.slice(0, MAX_YAML_ERRORS).map((error) => {
    const { line, col } = lineCounter.linePos(error.pos[0]);
    return { path: '', message: `invalid YAML at line ${line}, column ${col}: ${error.message}` };
  });
  const hidden = errors.length - shown.length;
  if (hidden > 0) shown[shown.length - 1].message += ` (and ${hidden} more YAML errors)`;
  return shown;
}
