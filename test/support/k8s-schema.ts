/**
 * Offline validation of rendered Kubernetes objects against the API schema of their kind (no API
 * server can run here). Two checks, both from the devDependency `kubernetes-models`, which is
 * generated from Kubernetes' OpenAPI document:
 *
 *  1. its compiled JSON-schema validator per kind: types, enums (imagePullPolicy, seccomp
 *     type…), formats (quantity, int32), required fields;
 *  2. unknown fields, which that validator lets through (its schemas are open): the field set of
 *     every nested type is read from the same package's TypeScript declarations with the
 *     TypeScript compiler, and any key not declared there is reported — what the API server's
 *     strict field validation (`kubectl apply --validate=strict`) rejects, e.g.
 *     `spec.template.spec.containers[0].imagePullPolicyy`.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import ts from 'typescript';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { Pod } from 'kubernetes-models/v1/Pod';

import { REPO_ROOT } from './sea';

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; [k: string]: unknown };
  [k: string]: unknown;
}

type Shape =
  | { readonly kind: 'leaf' }
  | { readonly kind: 'object'; readonly props: Map<string, Shape> }
  | { readonly kind: 'map'; readonly value: Shape }
  | { readonly kind: 'array'; readonly item: Shape };

interface KindInfo {
  /** d.ts below kubernetes-models/, and its interface. */
  readonly file: string;
  readonly iface: string;
  readonly validate: (obj: K8sObject) => void;
}

// Constructed models validate themselves (`.validate()` throws with every error on one line).
const KINDS: Record<string, KindInfo> = {
  'apps/v1/Deployment': { file: 'apps/v1/Deployment.d.ts', iface: 'IDeployment', validate: (o) => new Deployment(o as never).validate() },
  'v1/ConfigMap': { file: 'v1/ConfigMap.d.ts', iface: 'IConfigMap', validate: (o) => new ConfigMap(o as never).validate() },
  'v1/Pod': { file: 'v1/Pod.d.ts', iface: 'IPod', validate: (o) => new Pod(o as never).validate() },
};

const LEAF: Shape = { kind: 'leaf' };
let shapes: Map<string, Shape> | null = null;

/** Field trees of every supported kind, read once from the declarations. */
function kindShapes(): Map<string, Shape> {
  if (shapes) return shapes;
  const pkgDir = dirname(createRequire(join(REPO_ROOT, 'package.json')).resolve('kubernetes-models/package.json'));
  const files = Object.values(KINDS).map((k) => join(pkgDir, k.file));
  const program = ts.createProgram(files, {
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
    strict: true,
    noEmit: true,
    types: [],
  });
  const checker = program.getTypeChecker();
  const memo = new Map<ts.Type, Shape>();

  const shapeOf = (type: ts.Type): Shape => {
    const known = memo.get(type);
    if (known) return known;
    if (type.isUnion()) {
      // Optional fields are `T | undefined`; IntOrString is `number | string`.
      const parts = type.types.filter((t) => !(t.flags & (ts.TypeFlags.Undefined | ts.TypeFlags.Null)));
      const structured = parts.filter((t) => t.flags & ts.TypeFlags.Object);
      return structured.length === 1 && parts.length === 1 ? shapeOf(structured[0]!) : LEAF;
    }
    if (!(type.flags & ts.TypeFlags.Object)) return LEAF;
    if (checker.isArrayType(type)) {
      const item = checker.getTypeArguments(type as ts.TypeReference)[0];
      return { kind: 'array', item: item ? shapeOf(item) : LEAF };
    }
    const index = checker.getIndexInfoOfType(type, ts.IndexKind.String);
    if (index) return { kind: 'map', value: shapeOf(index.type) };
    const props = new Map<string, Shape>();
    const shape: Shape = { kind: 'object', props };
    memo.set(type, shape); // before recursing: the API has recursive types
    for (const p of checker.getPropertiesOfType(type)) {
      const decl = p.valueDeclaration ?? p.declarations?.[0];
      if (!decl) continue;
      props.set(p.getName(), shapeOf(checker.getTypeOfSymbolAtLocation(p, decl)));
    }
    return shape;
  };

  shapes = new Map();
  for (const [key, info] of Object.entries(KINDS)) {
    const source = program.getSourceFile(join(pkgDir, info.file));
    const sym = source && checker.getSymbolAtLocation(source)?.exports?.get(ts.escapeLeadingUnderscores(info.iface));
    if (!sym) throw new Error(`kubernetes-models: ${info.iface} not found in ${info.file}`);
    shapes.set(key, shapeOf(checker.getDeclaredTypeOfSymbol(sym)));
  }
  return shapes;
}

function unknownFields(value: unknown, shape: Shape, path: string, out: string[]): void {
  if (value === null || value === undefined || shape.kind === 'leaf') return;
  if (shape.kind === 'array') {
    if (Array.isArray(value)) value.forEach((v, i) => unknownFields(v, shape.item, `${path}[${i}]`, out));
    return;
  }
  if (typeof value !== 'object' || Array.isArray(value)) return; // a type error, reported by the validator
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    if (shape.kind === 'map') unknownFields(v, shape.value, `${path}.${k}`, out);
    else {
      const sub = shape.props.get(k);
      if (sub === undefined) out.push(`${path ? `${path}.` : ''}${k}: unknown field "${k}"`);
      else unknownFields(v, sub, path ? `${path}.${k}` : k, out);
    }
  }
}

/** Every schema problem of `obj` (empty when valid), one line each, prefixed with kind/name. */
export function validateK8sObject(obj: K8sObject): string[] {
  const key = `${obj.apiVersion}/${obj.kind}`;
  const info = KINDS[key];
  const who = `${obj.kind}/${obj.metadata?.name ?? '?'}`;
  if (!info) return [`${who}: no schema for ${key} in this validator (add it to test/support/k8s-schema.ts)`];
  const problems: string[] = [];
  try {
    info.validate(obj);
  } catch (e) {
    problems.push(...String((e as Error).message).split(/, (?=data)/).map((m) => `${who}: ${m}`));
  }
  const unknown: string[] = [];
  unknownFields(obj, kindShapes().get(key)!, '', unknown);
  problems.push(...unknown.map((m) => `${who}: ${m}`));
  return problems;
}
