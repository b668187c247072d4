import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { OpenApiValidator } from './openapi-validator.js';
import { sharedPath } from './shared-directory.js';

/** One request the fake received, with what was wrong with it or with the fake's answer. */
export interface QdrantExchange {
  method: string;
  path: string;
  operationId: string | null;
  body: unknown;
  status: number;
  problems: string[];
}

export interface FakeQdrantServer {
  url: string;
  exchanges: QdrantExchange[];
  /** Every schema problem seen so far, requests and responses alike (an empty list is the goal). */
  problems(): string[];
  collectionNames(): string[];
  aliases(): Record<string, string>;
  close(): Promise<void>;
}

type Filter = { must?: unknown; should?: unknown; must_not?: unknown };
/** A filter condition: a nested filter, or a field condition (match or range on `key`). */
type Condition = Filter & {
  key?: string;
  match?: { value?: unknown; any?: unknown[] } | null;
  range?: Record<string, number | null | undefined> | null;
};
/** The fields of request bodies the fake reads; the OpenAPI validator has already checked their shapes. */
interface RequestBody {
  vectors?: Record<string, unknown>;
  sparse_vectors?: Record<string, { modifier?: string | null }>;
  actions?: Array<Record<string, { alias_name: string; collection_name?: string; old_alias_name?: string; new_alias_name?: string }>>;
  field_name?: string;
  field_schema?: unknown;
  points?: unknown[];
  filter?: Filter | null;
  offset?: number | null;
  limit?: number | null;
  with_payload?: unknown;
  prefetch?: RequestBody | RequestBody[] | null;
  query?: unknown;
  using?: string | null;
}
type SparseVector = { indices: number[]; values: number[] };
type StoredPoint = { id: string | number; version: number; vectors: Record<string, number[] | SparseVector>; payload: Record<string, unknown> };

interface Collection {
  dense: Record<string, { size: number; distance: string }>;
  sparse: Record<string, { modifier?: string | null }>;
  points: Map<string, StoredPoint>;
  payloadIndexes: Map<string, unknown>;
}

class QdrantHttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

let validatorPromise: Promise<OpenApiValidator> | undefined;

/** Qdrant's OpenAPI description (shared/qdrant/openapi-v1.19.json), compiled once per process. */
export function qdrantOpenApiValidator(): Promise<OpenApiValidator> {
  validatorPromise ??= OpenApiValidator.load(sharedPath('qdrant', 'openapi-v1.19.json'));
  return validatorPromise;
}

/**
 * An in-memory stand-in for Qdrant's REST API, for tests without a Qdrant server. Every request is
 * checked against the operation in Qdrant's OpenAPI description (route, query parameters, body)
 * and every answer against the operation's response schema; problems are recorded and an invalid
 * request is answered 400, as Qdrant would. Behind that it implements the part of Qdrant the
 * adapter uses, faithfully enough for the ChunkIndex contract: collections with named dense and
 * sparse vectors (`modifier: idf` with Qdrant's IDF) and their info, aliases (changed atomically per request), payload filters (match, range),
 * upsert, delete by filter, count, and the Query API with prefetches and RRF fusion.
 */
export async function startFakeQdrantServer(): Promise<FakeQdrantServer> {
  const validator = await qdrantOpenApiValidator();
  const collections = new Map<string, Collection>();
  const aliases = new Map<string, string>();
  const exchanges: QdrantExchange[] = [];
  let version = 0;

  const resolve = (name: string): Collection => {
    const collection = collections.get(aliases.get(name) ?? name);
    if (collection === undefined) throw new QdrantHttpError(404, `Not found: Collection \`${name}\` doesn't exist!`);
    return collection;
  };

  const operations: Record<string, (path: Record<string, string>, query: URLSearchParams, body: RequestBody) => unknown> = {
    root: () => ({ title: 'qdrant - vector search engine', version: '1.19.0' }),
    get_collections: () => ({ collections: [...collections.keys()].sort().map((name) => ({ name })) }),
    collection_exists: (path) => ({ exists: collections.has(path.collection_name!) }),
    create_collection: (path, _query, body) => {
      const name = path.collection_name!;
      if (collections.has(name)) throw new QdrantHttpError(400, `Wrong input: Collection \`${name}\` already exists!`);
      const vectors = body.vectors ?? {};
      const dense = 'size' in vectors ? { '': vectors as { size: number; distance: string } } : (vectors as Record<string, { size: number; distance: string }>);
      collections.set(name, { dense, sparse: body.sparse_vectors ?? {}, points: new Map(), payloadIndexes: new Map() });
      return true;
    },
    delete_collection: (path) => {
      const existed = collections.delete(path.collection_name!);
      for (const [alias, target] of aliases) if (target === path.collection_name) aliases.delete(alias);
      return existed;
    },
    get_collections_aliases: () => ({ aliases: [...aliases].map(([alias_name, collection_name]) => ({ alias_name, collection_name })) }),
    get_collection: (path) => {
      const collection = resolve(path.collection_name!);
      const named = Object.keys(collection.dense).length === 1 && '' in collection.dense ? collection.dense[''] : collection.dense;
      return {
        status: 'green',
        optimizer_status: 'ok',
        points_count: collection.points.size,
        segments_count: 1,
        config: {
          params: { ...(Object.keys(collection.dense).length === 0 ? {} : { vectors: named }), sparse_vectors: collection.sparse },
          hnsw_config: { m: 16, ef_construct: 100, full_scan_threshold: 10000 },
          optimizer_config: { default_segment_number: 0, flush_interval_sec: 5 },
        },
        payload_schema: Object.fromEntries([...collection.payloadIndexes].map(([field, type]) => [field, { data_type: type, points: collection.points.size }])),
      };
    },
    update_aliases: (_path, _query, body) => {
      // Qdrant applies the actions of one request atomically: all of them, or none.
      const next = new Map(aliases);
      for (const action of body.actions ?? []) {
        if (action.create_alias) {
          resolve(action.create_alias.collection_name!);
          next.set(action.create_alias.alias_name, action.create_alias.collection_name!);
        } else if (action.delete_alias) {
          if (!next.delete(action.delete_alias.alias_name))
            throw new QdrantHttpError(404, `Not found: Alias ${action.delete_alias.alias_name} does not exists!`);
        } else if (action.rename_alias) {
          const target = next.get(action.rename_alias.old_alias_name!);
          if (target === undefined) throw new QdrantHttpError(404, `Not found: Alias ${action.rename_alias.old_alias_name} does not exists!`);
          next.delete(action.rename_alias.old_alias_name!);
          next.set(action.rename_alias.new_alias_name!, target);
        }
      }
      aliases.clear();
      for (const [alias, target] of next) aliases.set(alias, target);
      return true;
    },
    create_field_index: (path, _query, body) => {
      resolve(path.collection_name!).payloadIndexes.set(body.field_name ?? '', body.field_schema);
      return { operation_id: (version += 1), status: 'completed' };
    },
    upsert_points: (path, _query, body) => {
      const collection = resolve(path.collection_name!);
      if (body.points === undefined) throw new QdrantHttpError(400, 'Wrong input: only the points list form is supported by the fake');
      version += 1;
      for (const point of body.points as Array<{ id: string | number; vector: Record<string, number[] | SparseVector>; payload?: Record<string, unknown> }>) {
        for (const [name, vector] of Object.entries(point.vector)) {
          if (Array.isArray(vector)) {
            const config = collection.dense[name];
            if (config === undefined) throw new QdrantHttpError(400, `Wrong input: Not existing vector name error: ${name}`);
            if (vector.length !== config.size)
              throw new QdrantHttpError(400, `Wrong input: Vector dimension error: expected dim: ${config.size}, got ${vector.length}`);
          } else {
            if (collection.sparse[name] === undefined) throw new QdrantHttpError(400, `Wrong input: Not existing vector name error: ${name}`);
            if (new Set(vector.indices).size !== vector.indices.length) throw new QdrantHttpError(400, 'Validation error: indices must be unique');
            if (vector.indices.length !== vector.values.length)
              throw new QdrantHttpError(400, 'Validation error: indices and values must have the same length');
          }
        }
        collection.points.set(String(point.id), { id: point.id, version, vectors: point.vector, payload: point.payload ?? {} });
      }
      return { operation_id: version, status: 'completed' };
    },
    delete_points: (path, _query, body) => {
      const collection = resolve(path.collection_name!);
      version += 1;
      if (body.points !== undefined) {
        for (const id of body.points as Array<string | number>) collection.points.delete(String(id));
      } else {
        for (const [id, point] of collection.points) if (matches(point, body.filter)) collection.points.delete(id);
      }
      return { operation_id: version, status: 'completed' };
    },
    count_points: (path, _query, body) => {
      const collection = resolve(path.collection_name!);
      return { count: [...collection.points.values()].filter((point) => matches(point, body?.filter)).length };
    },
    query_points: (path, _query, body) => ({
      points: query(resolve(path.collection_name!), body)
        .slice(body.offset ?? 0, (body.offset ?? 0) + (body.limit ?? 10))
        .map(toScored(body.with_payload === true)),
    }),
  };

  function query(collection: Collection, request: RequestBody): Array<{ point: StoredPoint; score: number }> {
    const filter = request.filter;
    if (request.prefetch !== undefined && request.prefetch !== null) {
      const prefetches = Array.isArray(request.prefetch) ? request.prefetch : [request.prefetch];
      const rankings = prefetches.map((prefetch) => query(collection, { ...prefetch, filter: prefetch.filter ?? filter }).slice(0, prefetch.limit ?? 10));
      const fusion = request.query as { fusion?: string; rrf?: { k?: number | null } };
      if (fusion?.fusion !== 'rrf' && fusion?.fusion !== 'dbsf' && fusion?.rrf === undefined) {
        throw new QdrantHttpError(400, 'Wrong input: the fake fuses prefetches with rrf or dbsf only');
      }
      const k = fusion.rrf?.k ?? 2;
      const fused = new Map<string, { point: StoredPoint; score: number }>();
      for (const ranking of rankings) {
        const normalized = fusion.fusion === 'dbsf' ? distributionNormalized(ranking.map((entry) => entry.score)) : null;
        ranking.forEach((entry, rank) => {
          const key = String(entry.point.id);
          const current = fused.get(key) ?? { point: entry.point, score: 0 };
          // As the real server (v1.19): lib/segment/src/common/score_fusion.rs for dbsf, reciprocal_rank_fusion.rs for rrf (1 / (position + k), position from 0).
          current.score += normalized === null ? 1 / (k + rank) : normalized[rank]!;
          fused.set(key, current);
        });
      }
      return [...fused.values()].sort(byScore);
    }
    const using = request.using ?? '';
    const vector = request.query as number[] | SparseVector;
    const candidates = [...collection.points.values()].filter((point) => matches(point, filter));
    if (Array.isArray(vector)) {
      if (collection.dense[using] === undefined) throw new QdrantHttpError(400, `Wrong input: Not existing vector name error: ${using}`);
      return candidates
        .flatMap((point) => {
          const stored = point.vectors[using];
          return Array.isArray(stored) ? [{ point, score: cosine(vector, stored) }] : [];
        })
        .sort(byScore);
    }
    const config = collection.sparse[using];
    if (config === undefined) throw new QdrantHttpError(400, `Wrong input: Not existing vector name error: ${using}`);
    const withVector = [...collection.points.values()].filter((point) => point.vectors[using] !== undefined && !Array.isArray(point.vectors[using]));
    const idf = (dimension: number) => {
      if (config.modifier !== 'idf') return 1;
      const total = withVector.length;
      const containing = withVector.filter((point) => (point.vectors[using] as SparseVector).indices.includes(dimension)).length;
      return Math.log(1 + (total - containing + 0.5) / (containing + 0.5));
    };
    const weights = new Map(vector.indices.map((dimension, position) => [dimension, (vector.values[position] ?? 0) * idf(dimension)]));
    return candidates
      .flatMap((point) => {
        const stored = point.vectors[using];
        if (stored === undefined || Array.isArray(stored)) return [];
        let score = 0;
        let overlap = false;
        stored.indices.forEach((dimension, position) => {
          const weight = weights.get(dimension);
          if (weight === undefined) return;
          overlap = true;
          score += weight * (stored.values[position] ?? 0);
        });
        return overlap ? [{ point, score }] : [];
      })
      .sort(byScore);
  }

  const server = createServer((request, response) => {
    void handle(request, response);
  });

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const url = new URL(request.url ?? '/', 'http://fake-qdrant');
    const method = request.method ?? 'GET';
    const exchange: QdrantExchange = { method, path: `${url.pathname}${url.search}`, operationId: null, body: undefined, status: 200, problems: [] };
    exchanges.push(exchange);
    let body: unknown;
    try {
      body = text === '' ? undefined : JSON.parse(text);
    } catch {
      exchange.problems.push(`${method} ${url.pathname}: body is not JSON`);
    }
    exchange.body = body;
    const matched = validator.match(method, url.pathname);
    exchange.operationId = matched?.operationId ?? null;
    exchange.problems.push(...validator.validateRequest(method, url, body));
    const started = performance.now();
    let status = 200;
    let answer: unknown;
    if (exchange.problems.length > 0) {
      status = matched === null ? 404 : 400;
      answer = { status: { error: `Validation error: ${exchange.problems.join('; ')}` }, time: 0 };
    } else {
      const operation = operations[matched!.operationId];
      try {
        if (operation === undefined) throw new QdrantHttpError(501, `The fake does not implement ${matched!.operationId}`);
        answer = {
          result: operation(matched!.pathParameters, url.searchParams, body as RequestBody),
          status: 'ok',
          time: (performance.now() - started) / 1000,
        };
      } catch (error) {
        status = error instanceof QdrantHttpError ? error.status : 500;
        answer = { status: { error: error instanceof Error ? error.message : String(error) }, time: 0 };
      }
    }
    if (matched !== null) exchange.problems.push(...validator.validateResponse(matched.operationId, status, answer));
    exchange.status = status;
    response.statusCode = status;
    response.setHeader('content-type', 'application/json');
    response.end(JSON.stringify(answer));
  }

  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    exchanges,
    problems: () => exchanges.flatMap((exchange) => exchange.problems),
    collectionNames: () => [...collections.keys()].sort(),
    aliases: () => Object.fromEntries(aliases),
    async close() {
      server.closeAllConnections();
      server.close();
      await once(server, 'close').catch(() => {});
    },
  };
}

const byScore = (left: { score: number }, right: { score: number }) => right.score - left.score;

function cosine(left: number[], right: number[]): number {
  let dot = 0;
  let leftNorm = 0;
  let rightNorm = 0;
  left.forEach((value, position) => {
    const other = right[position] ?? 0;
    dot += value * other;
    leftNorm += value * value;
    rightNorm += other * other;
  });
  return leftNorm === 0 || rightNorm === 0 ? 0 : dot / Math.sqrt(leftNorm * rightNorm);
}

function toScored(withPayload: boolean) {
  return ({ point, score }: { point: StoredPoint; score: number }) => ({
    id: point.id,
    version: point.version,
    score,
    ...(withPayload ? { payload: point.payload } : {}),
  });
}

function asList(value: unknown): unknown[] {
  if (value === undefined || value === null) return [];
  return Array.isArray(value) ? value : [value];
}

function matches(point: StoredPoint, filter: Filter | undefined | null): boolean {
  if (filter === undefined || filter === null) return true;
  // The OpenAPI validator has checked that these are conditions.
  const must = asList(filter.must) as Condition[];
  const should = asList(filter.should) as Condition[];
  const mustNot = asList(filter.must_not) as Condition[];
  return (
    must.every((condition) => matchesCondition(point, condition)) &&
    (should.length === 0 || should.some((condition) => matchesCondition(point, condition))) &&
    !mustNot.some((condition) => matchesCondition(point, condition))
  );
}

function matchesCondition(point: StoredPoint, condition: Condition): boolean {
  if (condition.key === undefined) return matches(point, condition);
  const value = point.payload[condition.key];
  if (condition.match !== undefined && condition.match !== null) {
    if ('value' in condition.match) return value === condition.match.value;
    if (condition.match.any !== undefined) return condition.match.any.includes(value);
    throw new QdrantHttpError(400, 'Wrong input: the fake supports match value and any only');
  }
  if (condition.range !== undefined && condition.range !== null) {
    if (typeof value !== 'number') return false;
    const { gt, gte, lt, lte } = condition.range;
    return (gt == null || value > gt) && (gte == null || value >= gte) && (lt == null || value < lt) && (lte == null || value <= lte);
  }
  throw new QdrantHttpError(400, 'Wrong input: the fake supports match and range conditions only');
}

/** Qdrant's dbsf normalization: between mean ∓ 3 sample deviations; one score, or equal scores, become 0.5. */
function distributionNormalized(scores: number[]): number[] {
  if (scores.length < 2) return scores.map(() => 0.5);
  const mean = scores.reduce((sum, score) => sum + score, 0) / scores.length;
  const deviation = Math.sqrt(scores.reduce((sum, score) => sum + (score - mean) ** 2, 0) / (scores.length - 1));
  return deviation === 0 ? scores.map(() => 0.5) : scores.map((score) => (score - (mean - 3 * deviation)) / (6 * deviation));
}
