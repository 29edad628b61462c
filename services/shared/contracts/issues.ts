/**
 * How a schema's problems are said, the same everywhere (service and stack config, circle
 * files, CDK context): `path: message` per issue, joined by `; `. Typed by shape, not by
 * zod, so contracts stay free of imports.
 */

/** One problem as a schema library reports it (zod's issues have this shape). */
export interface SchemaIssue {
  readonly path: readonly PropertyKey[];
  readonly message: string;
}

/** The issues in one line; an issue about the whole input is named `root` (e.g. `(root)`). */
export function formatIssues(issues: readonly SchemaIssue[], root = ''): string {
  return issues.map((i) => `${i.path.join('.') || root}: ${i.message}`).join('; ');
}
