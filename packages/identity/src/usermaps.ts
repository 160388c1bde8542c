// userMaps rules: `systemUser` is a regular expression over OS usernames, `person` a person's name that may
// use `$1`..`$9`.. for capture groups (as pg_ident.conf uses \1). `$$` is a literal `$`.

export interface UserMapRule {
  systemUser: string;
  person: string;
}

export interface CompiledUserMap {
  index: number;
  rule: UserMapRule;
  regex: RegExp;
}

const TEMPLATE_REF = /\$(\$|\d+)/g;

/** Compile a rule's pattern the way the resolver uses it: Unicode mode, unanchored (write ^...$ to anchor). */
export function compilePattern(pattern: string): RegExp {
  return new RegExp(pattern, 'u');
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
