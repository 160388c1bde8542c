// userMaps rules: `systemUser` is a regular expression over OS usernames that must match the whole name
// (compiled as ^(?:pattern)$, as pg_ident.conf matches a literal name exactly), `person` a person's name
// that may use `$1`..`$9`.. for capture groups (as pg_ident.conf uses \1). `$$` is a literal `$`.

export interface UserMapRule {
  systemUser: string;
  person: string;
  /** Match the username case-insensitively (JavaScript has no inline `(?i)`). */
  ignoreCase?: boolean;
}

export interface CompiledUserMap {
  index: number;
  rule: UserMapRule;
  regex: RegExp;
}

const TEMPLATE_REF = /\$(\$|\d+)/g;
// `(?i)`, `(?i:...)`, `(?-i:...)`: flag groups, not preceded by an escaping backslash.
const INLINE_FLAGS = /(?:^|[^\\])(?:\\\\)*\(\?[a-zA-Z]*-?[a-zA-Z]+[):]/;

/**
 * Why `pattern` cannot be a systemUser, or null. Checked before compiling, so a pattern written for
 * pg_ident.conf or another regex dialect gets a hint rather than a bare JavaScript error or a rule that
 * silently never matches.
 */
export function patternProblem(pattern: string): string | null {
  if (pattern.startsWith('/')) {
    return `${JSON.stringify(pattern)} starts with "/": pg_ident.conf marks a regex with "/", but here every systemUser is a regular expression, anchored to the whole username; drop the "/" (and any ^ or $)`;
  }
  if (INLINE_FLAGS.test(pattern)) {
    return `${JSON.stringify(pattern)} has an inline flag group, which JavaScript regular expressions do not support here; for (?i) use "ignoreCase": true on the rule`;
  }
  try {
    compilePattern(pattern);
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    return `invalid regular expression ${JSON.stringify(pattern)}: ${reason}`;
  }
  return null;
}

/** Compile a rule's pattern the way the resolver uses it: Unicode mode, anchored to the whole username. */
export function compilePattern(pattern: string, ignoreCase = false): RegExp {
  const flags = ignoreCase ? 'iu' : 'u';
  // Compiled alone first: a pattern that only parses once wrapped (`a)|(b`) would escape the anchors.
  new RegExp(pattern, flags);
  return new RegExp(`^(?:${pattern})$`, flags);
}

/** Numbers of the capture groups a person template refers to; empty for a literal name. */
export function templateGroupRefs(person: string): number[] {
  const refs: number[] = [];
  for (const m of person.matchAll(TEMPLATE_REF)) {
    if (m[1] !== '$') refs.push(Number(m[1]));
  }
  return refs;
}

/** True when `person` is a template (names a capture group), so it can only be checked per username. */
export function isTemplate(person: string): boolean {
  return templateGroupRefs(person).length > 0;
}

/** The literal name a non-template `person` stands for (`$$` unescaped). */
export function literalName(person: string): string {
  return person.replace(TEMPLATE_REF, (_, ref: string) => (ref === '$' ? '$' : `$${ref}`));
}

/** How many capture groups a compiled pattern has. */
export function captureGroupCount(regex: RegExp): number {
  return (new RegExp(`${regex.source}|`, regex.flags).exec('')?.length ?? 1) - 1;
}

/** Substitute `match`'s groups into a person template; a group that did not participate is empty. */
export function expandTemplate(person: string, match: RegExpExecArray): string {
  return person.replace(TEMPLATE_REF, (_, ref: string) => (ref === '$' ? '$' : (match[Number(ref)] ?? '')));
}
