/**
 * The scenario JSON Schema (draft-07). One file serves cpm-load and editors: it ships in
 * scenarios/scenario.schema.json (package "files"), and YAML files point at it with
 * `# yaml-language-server: $schema=./scenario.schema.json`. It is read relative to this module,
 * which sits two folders below the package root both in src/ and in dist/.
 */
import { readFileSync } from "node:fs";
import AjvModule, { type ErrorObject, type ValidateFunction } from "ajv";

export const schemaUrl = new URL("../../scenarios/scenario.schema.json", import.meta.url);

let validator: ValidateFunction | undefined;

export function scenarioSchema(): Record<string, unknown> {
  return JSON.parse(readFileSync(schemaUrl, "utf8")) as Record<string, unknown>;
}

/** Validate loaded YAML data; returns every schema error (empty when valid). */
export function schemaErrors(data: unknown): ErrorObject[] {
  if (!validator) {
    const Ajv = AjvModule.default;
    // verbose: errors carry their parentSchema, where `errorMessage` and the allowed keys live.
    const ajv = new Ajv({ allErrors: true, verbose: true, strict: true, allowUnionTypes: true });
    // `errorMessage` is an annotation here (the wording for a failed node); editors using the
    // yaml-language-server show it too. Ajv only needs to know it is not a typo.
    ajv.addKeyword({ keyword: "errorMessage", schemaType: "string" });
    validator = ajv.compile(scenarioSchema());
  }
  return validator(data) ? [] : [...(validator.errors ?? [])];
}
