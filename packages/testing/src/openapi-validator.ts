import { readFile } from 'node:fs/promises';
import { Ajv, type ValidateFunction } from 'ajv';
import ajvFormats from 'ajv-formats';

/** One operation of an OpenAPI 3.0 document, found by method and path. */
export interface MatchedOperation {
  operationId: string;
  pathParameters: Record<string, string>;
}

interface OperationEntry {
  operationId: string;
  method: string;
  pattern: RegExp;
  parameterNames: string[];
  literalSegments: number;
  queryParameters: Map<string, ValidateFunction>;
  request: ValidateFunction | null;
  responses: Map<string, ValidateFunction>;
}

type SchemaObject = Record<string, unknown>;

// ajv-formats is CommonJS: its module object is the plugin, typed as the namespace holding `default`.
const addFormats = ajvFormats.default;

const unsignedRanges: Record<string, number> = { uint8: 2 ** 8 - 1, uint32: 2 ** 32 - 1, uint64: Number.MAX_SAFE_INTEGER, uint: Number.MAX_SAFE_INTEGER };

/**
 * Validates requests and responses against an OpenAPI 3.0 document with ajv. OpenAPI's dialect is
 * translated first: `nullable: true` becomes a `null` type, the numeric formats (`uint32`, `float`
 * …) become range checks. Request bodies are checked strictly: an object schema that lists its
 * properties accepts no others, so a misspelt or misplaced field (a query parameter sent in the
 * body) is an error rather than silently ignored.
 */
export class OpenApiValidator {
  readonly #operations: OperationEntry[];

  private constructor(operations: OperationEntry[]) {
    this.#operations = operations;
  }

  static async load(file: string): Promise<OpenApiValidator> {
    const document = JSON.parse(await readFile(file, 'utf8')) as {
      paths: Record<string, Record<string, SchemaObject>>;
      components: { schemas: Record<string, SchemaObject> };
    };
    const lenient = OpenApiValidator.#compiler(document.components.schemas, false);
    const strict = OpenApiValidator.#compiler(document.components.schemas, true);
    const operations: OperationEntry[] = [];
    for (const [path, methods] of Object.entries(document.paths)) {
      for (const [method, operation] of Object.entries(methods)) {
        const operationId = operation.operationId as string;
        const parameterNames: string[] = [];
        const pattern = new RegExp(
          `^${path.replace(/\{([^}]+)\}/g, (_match, name: string) => {
            parameterNames.push(name);
            return '([^/]+)';
          })}$`,
        );
        const queryParameters = new Map<string, ValidateFunction>();
        for (const parameter of (operation.parameters ?? []) as Array<{ name: string; in: string; schema: SchemaObject }>) {
          if (parameter.in === 'query') queryParameters.set(parameter.name, lenient(parameter.schema));
        }
        const body = (operation.requestBody as { content?: Record<string, { schema: SchemaObject }> } | undefined)?.content?.['application/json'];
        const responses = new Map<string, ValidateFunction>();
        for (const [status, response] of Object.entries(
          (operation.responses ?? {}) as Record<string, { content?: Record<string, { schema: SchemaObject }> }>,
        )) {
          const schema = response.content?.['application/json']?.schema;
          if (schema !== undefined) responses.set(status, lenient(schema));
        }
        operations.push({
          operationId,
          method: method.toUpperCase(),
          pattern,
          parameterNames,
          literalSegments: path.split('/').filter((segment) => segment !== '' && !segment.startsWith('{')).length,
          queryParameters,
          request: body === undefined ? null : strict(body.schema),
          responses,
        });
      }
    }
    // Literal segments win over parameters (`/collections/aliases` before `/collections/{name}`).
    operations.sort((left, right) => right.literalSegments - left.literalSegments);
    return new OpenApiValidator(operations);
  }

  match(method: string, pathname: string): MatchedOperation | null {
    for (const operation of this.#operations) {
      if (operation.method !== method.toUpperCase()) continue;
      const found = operation.pattern.exec(pathname);
      if (found === null) continue;
      const pathParameters: Record<string, string> = {};
      operation.parameterNames.forEach((name, position) => (pathParameters[name] = decodeURIComponent(found[position + 1] ?? '')));
      return { operationId: operation.operationId, pathParameters };
    }
    return null;
  }

  /** Problems with a request: unknown route, undeclared or invalid query parameters, a body that fails the schema. */
  validateRequest(method: string, url: URL, body: unknown): string[] {
    const matched = this.match(method, url.pathname);
    if (matched === null) return [`no operation for ${method} ${url.pathname}`];
    const operation = this.#operation(matched.operationId);
    const problems: string[] = [];
    for (const [name, value] of url.searchParams) {
      const validate = operation.queryParameters.get(name);
      if (validate === undefined) problems.push(`${operation.operationId}: undeclared query parameter "${name}"`);
      else if (!validate(coerce(value))) problems.push(`${operation.operationId}: query parameter ${name}=${value}: ${describe(validate)}`);
    }
    if (operation.request === null) {
      if (body !== undefined) problems.push(`${operation.operationId}: takes no body`);
    } else if (body === undefined) {
      problems.push(`${operation.operationId}: body missing`);
    } else if (!operation.request(body)) {
      problems.push(`${operation.operationId}: request body: ${describe(operation.request)}`);
    }
    return problems;
  }

  /** Problems with a response body for the status (falling back to the `4XX` and `default` responses). */
  validateResponse(operationId: string, status: number, body: unknown): string[] {
    const operation = this.#operation(operationId);
    const validate =
      operation.responses.get(String(status)) ??
      (status >= 400 && status < 500 ? operation.responses.get('4XX') : undefined) ??
      operation.responses.get('default');
    if (validate === undefined) return [`${operationId}: no response schema for HTTP ${status}`];
    return validate(body) ? [] : [`${operationId}: response ${status}: ${describe(validate)}`];
  }

  #operation(operationId: string): OperationEntry {
    const operation = this.#operations.find((entry) => entry.operationId === operationId);
    if (operation === undefined) throw new Error(`Unknown operation ${operationId}`);
    return operation;
  }

  static #compiler(schemas: Record<string, SchemaObject>, strictObjects: boolean): (schema: SchemaObject) => ValidateFunction {
    const ajv = new Ajv({ strict: false, allErrors: false, allowUnionTypes: true });
    addFormats(ajv, ['uuid', 'date-time', 'uri']);
    for (const [format, maximum] of Object.entries(unsignedRanges)) {
      ajv.addFormat(format, { type: 'number', validate: (value: number) => Number.isInteger(value) && value >= 0 && value <= maximum });
    }
    ajv.addFormat('int64', { type: 'number', validate: (value: number) => Number.isSafeInteger(value) });
    ajv.addFormat('float', { type: 'number', validate: (value: number) => Number.isFinite(value) && Math.abs(value) <= 3.4028234663852886e38 });
    ajv.addFormat('double', { type: 'number', validate: (value: number) => Number.isFinite(value) });
    ajv.addFormat('partial-date-time', true);
    const translated = translate({ components: { schemas } }, strictObjects) as SchemaObject;
    ajv.addSchema({ $id: 'openapi.json', ...translated });
    let counter = 0;
    return (schema) => {
      // Each operation's schema lives beside the components so that its `#/components/...` refs resolve.
      const id = `operation-${(counter += 1)}.json`;
      const rebased = JSON.parse(JSON.stringify(translate(schema, strictObjects)).replaceAll('"#/components/', '"openapi.json#/components/')) as SchemaObject;
      return ajv.compile({ $id: id, ...rebased });
    };
  }
}

/** OpenAPI 3.0 schema → JSON Schema as ajv reads it. */
function translate(node: unknown, strictObjects: boolean): unknown {
  if (Array.isArray(node)) return node.map((item) => translate(item, strictObjects));
  if (node === null || typeof node !== 'object') return node;
  const source = node as SchemaObject;
  const result: SchemaObject = {};
  for (const [key, value] of Object.entries(source)) {
    if (key === 'nullable' || key === 'example' || key === 'deprecated') continue;
    result[key] =
      key === 'properties' || key === 'schemas'
        ? Object.fromEntries(Object.entries(value as SchemaObject).map(([name, child]) => [name, translate(child, strictObjects)]))
        : translate(value, strictObjects);
  }
  if (source.nullable === true) {
    if (source.type === undefined) return { type: 'null' };
    result.type = [source.type, 'null'];
    if (Array.isArray(source.enum)) result.enum = [...(source.enum as unknown[]), null];
  }
  if (strictObjects && source.properties !== undefined && source.additionalProperties === undefined) result.additionalProperties = false;
  return result;
}

function coerce(value: string): unknown {
  if (value === 'true') return true;
  if (value === 'false') return false;
  if (/^-?\d+(\.\d+)?$/.test(value)) return Number(value);
  return value;
}

function describe(validate: ValidateFunction): string {
  return (validate.errors ?? []).map((error) => `${error.instancePath || '/'} ${error.message ?? ''} ${JSON.stringify(error.params)}`).join('; ');
}
