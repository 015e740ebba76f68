// The layering rule of DESIGN.md, as code: core/ imports only core/, and uses no clock, no
// ambient randomness, no timers, no process and no IO. Checked on the TypeScript AST, so a
// property named `process` or a string mentioning Date is fine while a real use is not.

import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import ts from "typescript";

export interface LayeringViolation {
  readonly file: string;
  readonly line: number;
  readonly what: string;
}

/** Globals that smuggle in time, randomness, scheduling, the process or IO. */
export const BANNED_GLOBALS = new Set([
  "Date",
  "setTimeout",
  "setInterval",
  "setImmediate",
  "clearTimeout",
  "clearInterval",
  "clearImmediate",
  "queueMicrotask",
  "process",
  "performance",
  "require",
  "fetch",
  "crypto",
  "Buffer",
  "globalThis",
  "global",
  "window",
  "XMLHttpRequest",
  "WebSocket",
  "console",
]);

/**
 * Checks sources given in memory (path → text). Identifiers are resolved with the type checker,
 * so a banned name counts only when it means the global (a local `process` parameter is fine).
 */
export function checkSources(files: ReadonlyMap<string, string>, root: string): LayeringViolation[] {
  const options: ts.CompilerOptions = { target: ts.ScriptTarget.ES2022, lib: ["lib.es2023.d.ts"], types: [], noEmit: true, allowJs: false };
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (name, lang, onError) => {
    const text = files.get(name);
    return text === undefined ? getSourceFile(name, lang, onError) : ts.createSourceFile(name, text, lang, true, ts.ScriptKind.TS);
  };
  const fileExists = host.fileExists.bind(host);
  host.fileExists = (name) => files.has(name) || fileExists(name);
  const readFile = host.readFile.bind(host);
  host.readFile = (name) => files.get(name) ?? readFile(name);
  const program = ts.createProgram([...files.keys()], options, host);
  const checker = program.getTypeChecker();
  const out: LayeringViolation[] = [];
  for (const file of files.keys()) {
    const sf = program.getSourceFile(file);
    if (sf === undefined) continue;
    const at = (node: ts.Node, what: string): void => {
      out.push({ file: relative(root, file), line: sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1, what });
    };
    const checkSpecifier = (node: ts.Node, spec: string): void => {
      if (!spec.startsWith(".")) at(node, `imports "${spec}" (core/ may import only core/)`);
      else if (relative(root, resolve(dirname(file), spec)).startsWith("..")) at(node, `imports "${spec}", outside core/`);
    };
    /** A global: declared only in a library file, or not declared at all (core has no Node types). */
    const isGlobal = (id: ts.Identifier): boolean => {
      const sym = checker.getSymbolAtLocation(id);
      const decls = sym?.declarations ?? [];
      return decls.length === 0 || decls.every((d) => d.getSourceFile().isDeclarationFile);
    };
    const visit = (node: ts.Node): void => {
      if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier !== undefined && ts.isStringLiteral(node.moduleSpecifier)) {
        checkSpecifier(node, node.moduleSpecifier.text);
      } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
        const arg = node.arguments[0];
        if (arg !== undefined && ts.isStringLiteralLike(arg)) checkSpecifier(node, arg.text);
        else at(node, "dynamic import() of a computed module");
      } else if (ts.isPropertyAccessExpression(node) && ts.isIdentifier(node.expression) && node.expression.text === "Math" && node.name.text === "random" && isGlobal(node.expression)) {
        at(node, "uses Math.random (take the PRNG the host passes in)");
      } else if (ts.isIdentifier(node) && BANNED_GLOBALS.has(node.text) && isReference(node) && isGlobal(node)) {
        at(node, `uses ${node.text}`);
      }
      ts.forEachChild(node, visit);
    };
    visit(sf);
  }
  return out;
}

/** True when an identifier reads a variable (not a property name, a key, a type, or a declaration's own name). */
function isReference(id: ts.Identifier): boolean {
  const p = id.parent;
  if (ts.isPropertyAccessExpression(p) && p.name === id) return false;
  if ((ts.isPropertyAssignment(p) || ts.isPropertyDeclaration(p) || ts.isPropertySignature(p) || ts.isMethodDeclaration(p) || ts.isMethodSignature(p)) && p.name === id) return false;
  if (ts.isEnumMember(p) || ts.isQualifiedName(p) || ts.isTypeReferenceNode(p) || ts.isLabeledStatement(p)) return false;
  if ((ts.isImportSpecifier(p) || ts.isExportSpecifier(p)) && (p.name === id || p.propertyName === id)) return false;
  if ((ts.isParameter(p) || ts.isVariableDeclaration(p) || ts.isBindingElement(p) || ts.isFunctionDeclaration(p) || ts.isClassDeclaration(p)) && p.name === id) return false;
  return true;
}

export function coreFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...coreFiles(path));
    else if (name.endsWith(".ts") && !name.endsWith(".test.ts") && !name.endsWith(".d.ts")) out.push(path);
  }
  return out.sort();
}

export function checkCore(coreDir: string): LayeringViolation[] {
  return checkSources(new Map(coreFiles(coreDir).map((f) => [f, readFileSync(f, "utf8")])), coreDir);
}
