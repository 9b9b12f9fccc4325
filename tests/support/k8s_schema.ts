// Owns validating Kubernetes objects against the API's OpenAPI schemas (kubernetes-models; its only importer).

import { ConfigMap } from "kubernetes-models/v1/ConfigMap";
import { Secret } from "kubernetes-models/v1/Secret";
import { Service } from "kubernetes-models/v1/Service";
import { Deployment } from "kubernetes-models/apps/v1/Deployment";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1/PodDisruptionBudget";

interface Validatable {
  validate(): void;
}

const MODELS: Record<string, new (data: never) => Validatable> = {
  "v1/ConfigMap": ConfigMap,
  "v1/Secret": Secret,
  "v1/Service": Service,
  "apps/v1/Deployment": Deployment,
  "policy/v1/PodDisruptionBudget": PodDisruptionBudget,
};

/** The kinds this checker knows, as "apiVersion/Kind". */
export const KNOWN_KINDS = Object.keys(MODELS);

/**
 * Validates one object against the schema of its apiVersion/kind. Returns the problem, or
 * undefined when it is valid; an unknown kind is a problem too (nothing would check it).
 */
export function schemaProblem(object: Record<string, unknown>): string | undefined {
  const key = `${object.apiVersion}/${object.kind}`;
  const Model = MODELS[key];
  if (Model === undefined) return `no schema known for ${key} (known: ${KNOWN_KINDS.join(", ")})`;
  try {
    new Model(object as never).validate();
    return undefined;
  } catch (error) {
    return `${key}: ${(error as Error).message}`;
  }
}
