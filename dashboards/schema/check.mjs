// Checks a Grafana dashboard JSON against @grafana/schema's TypeScript
// types with tsc: the dashboard (variables, annotations, panels, rows) must
// satisfy Dashboard, and each panel's options and custom field config the
// types of its panel plugin. An unknown property is an error, as
// TypeScript's excess-property check on an object literal makes it; a
// missing one is not (Grafana fills in defaults).
//
// Usage: node check.mjs DASHBOARD.json (from a directory where
// @grafana/schema and typescript are installed; scripts/test.sh does it).
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const require = createRequire(join(process.cwd(), 'package.json'));
const schemaPkg = JSON.parse(readFileSync(require.resolve('@grafana/schema/package.json'), 'utf8'));
const dashboard = JSON.parse(readFileSync(process.argv[2], 'utf8'));

// The module of each panel plugin's types, from the package's own exports.
function panelModule(type) {
	const marker = `/raw/composable/${type}/panelcfg/`;
	const key = Object.keys(schemaPkg.exports).find((k) => k.includes(marker));
	return key && '@grafana/schema' + key.slice(1);
}

// JSON holds an enum's value, not the TypeScript enum: Loose reads each
// string enum as the union of its values, and keeps everything else,
// excess-property checks included.
const lines = [
	`import type * as schema from '@grafana/schema';`,
	`type Loose<T> = T extends string ? \`\${T}\` : T extends number | boolean | null | undefined ? T :`,
	`\tT extends readonly (infer U)[] ? Loose<U>[] : T extends object ? { [K in keyof T]: Loose<T[K]> } : T;`,
];
const imports = new Map();
function pluginTypes(type) {
	if (!imports.has(type)) {
		const mod = panelModule(type);
		if (!mod) return null;
		const name = `plugin_${imports.size}`;
		lines.push(`import type * as ${name} from '${mod}';`);
		imports.set(type, name);
	}
	return imports.get(type);
}

// An annotation's target is its data source's query (the schema's
// AnnotationQuery<TQuery>); @grafana/schema has no Prometheus query type,
// so a target may hold any field beside DataQuery's.
const { annotations, ...rest } = dashboard;
lines.push(`export const dashboard = ${JSON.stringify(rest, null, '\t')} satisfies Loose<schema.Dashboard>;`);
lines.push(`export const annotations = ${JSON.stringify(annotations ?? {}, null, '\t')} satisfies ` +
	`Loose<Omit<schema.AnnotationContainer, 'list'> & { list?: schema.AnnotationQuery<schema.DataQuery & Record<string, unknown>>[] }>;`);

const panels = [];
for (const p of dashboard.panels ?? []) {
	panels.push(p);
	for (const q of p.panels ?? []) panels.push(q);
}
let n = 0;
for (const p of panels) {
	if (p.type === 'row') continue;
	const plugin = pluginTypes(p.type);
	if (!plugin) {
		console.error(`panel "${p.title}": no types for panel type ${p.type} in @grafana/schema`);
		process.exit(1);
	}
	const where = JSON.stringify(`panel "${p.title}" (${p.type})`);
	if (p.options !== undefined) {
		lines.push(`// ${where}`);
		lines.push(`export const options_${n} = ${JSON.stringify(p.options)} satisfies Partial<Loose<${plugin}.Options>>;`);
	}
	const custom = p.fieldConfig?.defaults?.custom;
	if (custom !== undefined) {
		lines.push(`// ${where}`);
		lines.push(`export const custom_${n} = ${JSON.stringify(custom)} satisfies Partial<Loose<${plugin}.FieldConfig>>;`);
	}
	n++;
}

// In the install directory, so that tsc resolves the packages there.
const file = join(process.cwd(), 'dashboard.ts');
writeFileSync(file, lines.join('\n') + '\n');
try {
	execFileSync(require.resolve('typescript/bin/tsc'), [
		'--noEmit', '--strict', '--target', 'es2022', '--module', 'nodenext', '--moduleResolution', 'nodenext',
		'--skipLibCheck', file,
	], { stdio: 'inherit' });
} catch {
	console.error(`${process.argv[2]} does not match @grafana/schema ${schemaPkg.version} (generated ${file})`);
	process.exit(1);
}
console.log(`${process.argv[2]}: ${panels.length} panels match @grafana/schema ${schemaPkg.version}`);
