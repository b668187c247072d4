import { documentStatuses } from '@passage/spec';

/**
 * The catalog's multi-key changes as Lua scripts, so that each one is atomic on the Redis server
 * (no other client runs between its reads and writes). Documents are hashes whose fields hold
 * JSON values (`"queued"`, `3`, `null`), which is why statuses are compared with their quotes.
 *
 * Every key a script touches comes in KEYS (catalog-keys.ts names them): the scripts build none,
 * which Redis Cluster requires, and in the cluster layout all of them share the knowledge base's
 * hash tag. Where the keys depend on what the script reads (the documents of a knowledge base, an
 * earlier upload with the same content, the document a new one replaces), the caller reads first
 * and passes what it read; the script checks it still holds and otherwise returns `retry` (-3)
 * without writing, and the caller reads again.
 *
 * Scripts that move documents between statuses take the knowledge base's status sets first, as
 * KEYS[1..4], in `documentStatuses` order.
 */

/** What a script returns when what its caller read beforehand changed meanwhile. */
export const retryOutcome = -3;

const statusCount = documentStatuses.length;

/**
 * Helpers shared by the scripts: the status set of a stored status, moving a document between
 * status sets, and removing a document with every key that refers to it.
 */
const helpers = `
local status_position = { ${documentStatuses.map((status, position) => `['"${status}"'] = ${position + 1}`).join(', ')} }

local function status_key(status_json)
  return KEYS[status_position[status_json]]
end

local function move_status(key, id, old_status, new_status)
  if old_status == new_status then return end
  local score = redis.call('HGET', key, 'createdAtMs')
  redis.call('ZREM', status_key(old_status), id)
  redis.call('ZADD', status_key(new_status), score, id)
end

local function delete_document(documents_key, hashes_key, key, generations_key, id)
  local status = redis.call('HGET', key, 'status')
  if status then redis.call('ZREM', status_key(status), id) end
  local hash = redis.call('HGET', key, 'contentHash')
  if hash then
    local content_hash = cjson.decode(hash)
    if redis.call('HGET', hashes_key, content_hash) == id then redis.call('HDEL', hashes_key, content_hash) end
  end
  redis.call('ZREM', documents_key, id)
  redis.call('DEL', key, generations_key)
end

-- Whether the sorted set holds exactly the ids ARGV[from..] (in its order).
local function holds_exactly(set_key, from)
  local ids = redis.call('ZRANGE', set_key, 0, -1)
  if #ids ~= #ARGV - from + 1 then return false end
  for position, id in ipairs(ids) do
    if ARGV[from + position - 1] ~= id then return false end
  end
  return true
end
`;

/** KEYS: knowledge base. ARGV: id, name, createdAt, schema (JSON). Returns 1, or 0 if the id exists. */
export const createKnowledgeBaseScript = `
local key = KEYS[1]
if redis.call('EXISTS', key) == 1 then return 0 end
redis.call('HSET', key, 'id', ARGV[1], 'name', ARGV[2], 'createdAt', ARGV[3], 'generation', '1', 'schema', ARGV[4])
return 1
`;

/**
 * KEYS: knowledge base. ARGV: owner, now (ISO 8601), lease end (ISO 8601), schema (JSON). Takes the
 * reindex lock: a running lease of another owner refuses; an expired one (or the owner's own) is
 * taken over with its target and progress; otherwise a new reindex targets the live generation + 1.
 * ISO 8601 timestamps of one format compare as strings.
 * Returns {'not_found'}, {'conflict', state}, or {'begun' | 'resumed', state} (state as JSON).
 */
export const beginReindexScript = `
local key = KEYS[1]
local owner, now, lease_end = ARGV[1], ARGV[2], ARGV[3]
if redis.call('EXISTS', key) == 0 then return {'not_found'} end
local stored = redis.call('HGET', key, 'reindex')
if stored then
  local state = cjson.decode(stored)
  if state.owner ~= owner and state.leaseExpiresAt > now then return {'conflict', stored} end
  state.owner = owner
  state.leaseExpiresAt = lease_end
  local encoded = cjson.encode(state)
  redis.call('HSET', key, 'reindex', encoded)
  return {'resumed', encoded}
end
local state = {
  targetGeneration = tonumber(redis.call('HGET', key, 'generation')) + 1,
  schema = cjson.decode(ARGV[4]),
  owner = owner,
  leaseExpiresAt = lease_end,
  startedAt = now,
  progress = { documentsTotal = 0, documentsDone = 0, documentsFailed = 0, chunks = 0 },
}
local encoded = cjson.encode(state)
redis.call('HSET', key, 'reindex', encoded)
return {'begun', encoded}
`;

/**
 * KEYS: knowledge base. ARGV: owner, lease end (ISO 8601), progress (JSON, or empty to keep it).
 * Returns 1, or 0 when the owner does not hold the reindex.
 */
export const renewReindexScript = `
local key = KEYS[1]
local stored = redis.call('HGET', key, 'reindex')
if not stored then return 0 end
local state = cjson.decode(stored)
if state.owner ~= ARGV[1] then return 0 end
state.leaseExpiresAt = ARGV[2]
if ARGV[3] ~= '' then state.progress = cjson.decode(ARGV[3]) end
redis.call('HSET', key, 'reindex', cjson.encode(state))
return 1
`;

/** KEYS: knowledge base. ARGV: owner. Forgets the reindex if the owner holds it; returns 1, else 0. */
export const abandonReindexScript = `
local key = KEYS[1]
local stored = redis.call('HGET', key, 'reindex')
if not stored or cjson.decode(stored).owner ~= ARGV[1] then return 0 end
redis.call('HDEL', key, 'reindex')
return 1
`;

/**
 * KEYS: knowledge base, its documents, then per document (in the documents' order) its hash and
 * its generations. ARGV: owner, target generation, then the document ids the caller read. When
 * every ready document is recorded in the target, makes it live with the reindex's schema, ends
 * the reindex and forgets the records of older generations. Returns {'not_found'}, {'conflict'}
 * (the owner does not hold a reindex into that target), {'retry'} (the documents changed since
 * the caller read them), {'missing', id...} (oldest first; nothing changed) or
 * {'switched', previous generation}.
 */
export const switchGenerationScript = `
${helpers}
local key, target = KEYS[1], ARGV[2]
if redis.call('EXISTS', key) == 0 then return {'not_found'} end
local stored = redis.call('HGET', key, 'reindex')
if not stored then return {'conflict'} end
local state = cjson.decode(stored)
if state.owner ~= ARGV[1] or tostring(state.targetGeneration) ~= target then return {'conflict'} end
if not holds_exactly(KEYS[2], 3) then return {'retry'} end
local result = {'missing'}
for position = 3, #ARGV do
  local document_key, generations_key = KEYS[2 * position - 3], KEYS[2 * position - 2]
  if redis.call('HGET', document_key, 'status') == '"ready"' and redis.call('HEXISTS', generations_key, target) == 0 then
    table.insert(result, ARGV[position])
  end
end
if #result > 1 then return result end
local previous = redis.call('HGET', key, 'generation')
redis.call('HSET', key, 'generation', target, 'schema', cjson.encode(state.schema))
redis.call('HDEL', key, 'reindex')
local target_number = tonumber(target)
for position = 3, #ARGV do
  local generations_key = KEYS[2 * position - 2]
  for _, generation in ipairs(redis.call('HKEYS', generations_key)) do
    if tonumber(generation) < target_number then redis.call('HDEL', generations_key, generation) end
  end
end
return {'switched', previous}
`;

/** KEYS: document, its generations. ARGV: generation, chunks. Records nothing for a deleted document; returns 1 if recorded. */
export const recordDocumentGenerationScript = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
return 1
`;

/**
 * KEYS: the status sets (${statusCount}), knowledge base, its documents, its content hashes, then per
 * document its hash and the hash of the document its content hash pointed to when the caller
 * read it (its own hash again when none). ARGV: per document: id, createdAtMs, content hash, a
 * JSON object of its fields (values already JSON-encoded), and the id its content hash pointed
 * to ('' when none). A document whose content hash its knowledge base already holds (earlier
 * uploads, or earlier in the same call) is not recorded. Returns one entry per document:
 * {'created' | 'duplicate', field, value, ...} (the hash of the recorded or the existing document);
 * -1 when the knowledge base does not exist, -2 when a document id is taken, -3 when a content
 * hash points elsewhere than the caller read (nothing is written then).
 */
export const createDocumentsScript = `
${helpers}
local kb_key, documents_key, hashes_key = KEYS[${statusCount + 1}], KEYS[${statusCount + 2}], KEYS[${statusCount + 3}]
local first_key = ${statusCount + 4}
if redis.call('EXISTS', kb_key) == 0 then return -1 end
for i = 1, #ARGV, 5 do
  local key = KEYS[first_key + 2 * ((i - 1) / 5)]
  if redis.call('EXISTS', key) == 1 then return -2 end
  if (redis.call('HGET', hashes_key, ARGV[i + 2]) or '') ~= ARGV[i + 4] then return ${retryOutcome} end
end
local created_by_hash = {}
local results = {}
for i = 1, #ARGV, 5 do
  local id, score, content_hash = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local key = KEYS[first_key + 2 * ((i - 1) / 5)]
  local existing_key = created_by_hash[content_hash]
  if not existing_key and ARGV[i + 4] ~= '' then
    local earlier_key = KEYS[first_key + 2 * ((i - 1) / 5) + 1]
    if redis.call('EXISTS', earlier_key) == 1 then existing_key = earlier_key end
  end
  if existing_key then
    local entry = redis.call('HGETALL', existing_key)
    table.insert(entry, 1, 'duplicate')
    table.insert(results, entry)
  else
    local fields = cjson.decode(ARGV[i + 3])
    for name, value in pairs(fields) do redis.call('HSET', key, name, value) end
    redis.call('HSET', key, 'createdAtMs', score)
    redis.call('HSET', hashes_key, content_hash, id)
    redis.call('ZADD', documents_key, score, id)
    redis.call('ZADD', status_key(fields['status']), score, id)
    created_by_hash[content_hash] = key
    local entry = redis.call('HGETALL', key)
    table.insert(entry, 1, 'created')
    table.insert(results, entry)
  end
end
return results
`;

/**
 * KEYS: the status sets (${statusCount}), document. ARGV: document id, then field/value pairs (JSON
 * values). Returns the updated hash, or nil when the document does not exist (an update never
 * recreates a deleted document).
 */
export const updateDocumentScript = `
${helpers}
local key, id = KEYS[${statusCount + 1}], ARGV[1]
local old_status = redis.call('HGET', key, 'status')
if not old_status then return nil end
for i = 2, #ARGV, 2 do
  if ARGV[i] == 'status' then move_status(key, id, old_status, ARGV[i + 1]) end
  redis.call('HSET', key, ARGV[i], ARGV[i + 1])
end
return redis.call('HGETALL', key)
`;

/**
 * KEYS: the status sets (${statusCount}), document, knowledge base's documents, its content hashes,
 * then the hash and generations of the document it replaces (its own again when none). ARGV:
 * document id, the id it replaces as the caller read it ('' when none), then field/value pairs
 * (JSON values) that mark it ready. Applies them and, when the document replaces another of its
 * knowledge base, deletes that one. Returns {replaced id or '', field, value, ...}, nil when the
 * document does not exist, or -3 when it replaces another than the caller read.
 */
export const completeDocumentScript = `
${helpers}
local key, documents_key, hashes_key = KEYS[${statusCount + 1}], KEYS[${statusCount + 2}], KEYS[${statusCount + 3}]
local replaced_key, replaced_generations_key = KEYS[${statusCount + 4}], KEYS[${statusCount + 5}]
local id = ARGV[1]
local old_status = redis.call('HGET', key, 'status')
if not old_status then return nil end
local replaces = cjson.decode(redis.call('HGET', key, 'replaces') or 'null')
if type(replaces) ~= 'string' or replaces == id then replaces = '' end
if replaces ~= ARGV[2] then return ${retryOutcome} end
move_status(key, id, old_status, '"ready"')
for i = 3, #ARGV, 2 do redis.call('HSET', key, ARGV[i], ARGV[i + 1]) end
local replaced = ''
if replaces ~= '' and redis.call('HGET', replaced_key, 'knowledgeBaseId') == redis.call('HGET', key, 'knowledgeBaseId') then
  delete_document(documents_key, hashes_key, replaced_key, replaced_generations_key, replaces)
  replaced = replaces
end
local result = redis.call('HGETALL', key)
table.insert(result, 1, replaced)
return result
`;

/**
 * KEYS: the status sets (${statusCount}), document. ARGV: document id, updatedAt (JSON). Moves a
 * queued or processing document to processing, counts an attempt and clears the error; returns the
 * hash, or nil when the document is gone or has ended.
 */
export const claimDocumentScript = `
${helpers}
local key, id = KEYS[${statusCount + 1}], ARGV[1]
local status = redis.call('HGET', key, 'status')
if status ~= '"queued"' and status ~= '"processing"' then return nil end
move_status(key, id, status, '"processing"')
redis.call('HSET', key, 'status', '"processing"', 'updatedAt', ARGV[2], 'error', 'null')
redis.call('HINCRBY', key, 'attempts', 1)
return redis.call('HGETALL', key)
`;

/**
 * KEYS: the status sets (${statusCount}), document, its generations, knowledge base's documents, its
 * content hashes. ARGV: document id, knowledge base id as stored (JSON). Returns 1, or 0 when the
 * document is not found in that knowledge base.
 */
export const deleteDocumentScript = `
${helpers}
local key = KEYS[${statusCount + 1}]
if redis.call('HGET', key, 'knowledgeBaseId') ~= ARGV[2] then return 0 end
delete_document(KEYS[${statusCount + 3}], KEYS[${statusCount + 4}], key, KEYS[${statusCount + 2}], ARGV[1])
return 1
`;

/**
 * KEYS: the status sets (${statusCount}), knowledge base, its documents, its content hashes, then per
 * document (in the documents' order) its hash and its generations. ARGV: the document ids the
 * caller read. Removes the knowledge base and its documents; returns 1, 0 if absent, or -3 when its
 * documents changed since the caller read them (nothing is written then).
 */
export const deleteKnowledgeBaseScript = `
${helpers}
local kb_key, documents_key, hashes_key = KEYS[${statusCount + 1}], KEYS[${statusCount + 2}], KEYS[${statusCount + 3}]
if redis.call('EXISTS', kb_key) == 0 then return 0 end
if not holds_exactly(documents_key, 1) then return ${retryOutcome} end
for position = 1, #ARGV do
  local first = ${statusCount + 3} + 2 * position - 1
  delete_document(documents_key, hashes_key, KEYS[first], KEYS[first + 1], ARGV[position])
end
redis.call('DEL', documents_key, hashes_key, kb_key)
return 1
`;
