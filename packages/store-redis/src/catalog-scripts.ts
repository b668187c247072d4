/**
 * The catalog's multi-key changes as Lua scripts, so that each one is atomic on the Redis server
 * (no other client runs between its reads and writes). Documents are hashes whose fields hold
 * JSON values (`"queued"`, `3`, `null`), which is why statuses are compared with their quotes.
 *
 * Index keys are derived inside the scripts from the key prefix passed as ARGV[1]: fine for a
 * standalone Redis (or a Sentinel setup), not for Redis Cluster, where every key a script touches
 * must be declared. The keys (redis-catalog.ts describes them) are:
 * `kb:<id>` (hash), `kbs` (sorted set), `kb:<id>:documents` (sorted set), `kb:<id>:hashes`
 * (content hash → document id), `document:<id>` (hash), `document:<id>:generations`
 * (generation → chunk count) and `status:<status>` (sorted sets).
 */

/**
 * Helpers shared by the scripts: the status index of a stored status, moving a document between
 * status indexes, and removing a document with every key that refers to it.
 */
const helpers = `
local function status_key(prefix, status_json)
  return prefix .. 'status:' .. cjson.decode(status_json)
end

local function move_status(prefix, key, id, old_status, new_status)
  if old_status == new_status then return end
  local score = redis.call('HGET', key, 'createdAtMs')
  redis.call('ZREM', status_key(prefix, old_status), id)
  redis.call('ZADD', status_key(prefix, new_status), score, id)
end

local function delete_document(prefix, kb, id)
  local key = prefix .. 'document:' .. id
  local status = redis.call('HGET', key, 'status')
  if status then redis.call('ZREM', status_key(prefix, status), id) end
  local hash = redis.call('HGET', key, 'contentHash')
  if hash then
    local hashes_key = prefix .. 'kb:' .. kb .. ':hashes'
    local content_hash = cjson.decode(hash)
    if redis.call('HGET', hashes_key, content_hash) == id then redis.call('HDEL', hashes_key, content_hash) end
  end
  redis.call('ZREM', prefix .. 'kb:' .. kb .. ':documents', id)
  redis.call('DEL', key, key .. ':generations')
end
`;

/** KEYS: none. ARGV: prefix, id, name, createdAt, createdAtMs, schema (JSON). Returns 1, or 0 if the id exists. */
export const createKnowledgeBaseScript = `
local key = ARGV[1] .. 'kb:' .. ARGV[2]
if redis.call('EXISTS', key) == 1 then return 0 end
redis.call('HSET', key, 'id', ARGV[2], 'name', ARGV[3], 'createdAt', ARGV[4], 'generation', '1', 'schema', ARGV[6])
redis.call('ZADD', ARGV[1] .. 'kbs', ARGV[5], ARGV[2])
return 1
`;

/**
 * KEYS: none. ARGV: prefix, knowledge base id, owner, now (ISO 8601), lease end (ISO 8601), schema
 * (JSON). Takes the reindex lock: a running lease of another owner refuses; an expired one (or the
 * owner's own) is taken over with its target and progress; otherwise a new reindex targets the
 * live generation + 1. ISO 8601 timestamps of one format compare as strings.
 * Returns {'not_found'}, {'conflict', state}, or {'begun' | 'resumed', state} (state as JSON).
 */
export const beginReindexScript = `
local key = ARGV[1] .. 'kb:' .. ARGV[2]
local owner, now, lease_end = ARGV[3], ARGV[4], ARGV[5]
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
  schema = cjson.decode(ARGV[6]),
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
 * KEYS: none. ARGV: prefix, knowledge base id, owner, lease end (ISO 8601), progress (JSON, or
 * empty to keep it). Returns 1, or 0 when the owner does not hold the reindex.
 */
export const renewReindexScript = `
local key = ARGV[1] .. 'kb:' .. ARGV[2]
local stored = redis.call('HGET', key, 'reindex')
if not stored then return 0 end
local state = cjson.decode(stored)
if state.owner ~= ARGV[3] then return 0 end
state.leaseExpiresAt = ARGV[4]
if ARGV[5] ~= '' then state.progress = cjson.decode(ARGV[5]) end
redis.call('HSET', key, 'reindex', cjson.encode(state))
return 1
`;

/** KEYS: none. ARGV: prefix, knowledge base id, owner. Forgets the reindex if the owner holds it; returns 1, else 0. */
export const abandonReindexScript = `
local key = ARGV[1] .. 'kb:' .. ARGV[2]
local stored = redis.call('HGET', key, 'reindex')
if not stored or cjson.decode(stored).owner ~= ARGV[3] then return 0 end
redis.call('HDEL', key, 'reindex')
return 1
`;

/**
 * KEYS: none. ARGV: prefix, knowledge base id, owner, target generation. When every ready document
 * is recorded in the target, makes it live with the reindex's schema, ends the reindex and forgets
 * the records of older generations. Returns {'not_found'}, {'conflict'} (the owner does not hold
 * a reindex into that target), {'missing', id...} (oldest first; nothing changed) or
 * {'switched', previous generation}.
 */
export const switchGenerationScript = `
local prefix, kb, target = ARGV[1], ARGV[2], ARGV[4]
local key = prefix .. 'kb:' .. kb
if redis.call('EXISTS', key) == 0 then return {'not_found'} end
local stored = redis.call('HGET', key, 'reindex')
if not stored then return {'conflict'} end
local state = cjson.decode(stored)
if state.owner ~= ARGV[3] or tostring(state.targetGeneration) ~= target then return {'conflict'} end
local documents = redis.call('ZRANGE', key .. ':documents', 0, -1)
local result = {'missing'}
for _, id in ipairs(documents) do
  local document_key = prefix .. 'document:' .. id
  if redis.call('HGET', document_key, 'status') == '"ready"'
    and redis.call('HEXISTS', document_key .. ':generations', target) == 0 then
    table.insert(result, id)
  end
end
if #result > 1 then return result end
local previous = redis.call('HGET', key, 'generation')
redis.call('HSET', key, 'generation', target, 'schema', cjson.encode(state.schema))
redis.call('HDEL', key, 'reindex')
local target_number = tonumber(target)
for _, id in ipairs(documents) do
  local generations_key = prefix .. 'document:' .. id .. ':generations'
  for _, generation in ipairs(redis.call('HKEYS', generations_key)) do
    if tonumber(generation) < target_number then redis.call('HDEL', generations_key, generation) end
  end
end
return {'switched', previous}
`;

/** KEYS: none. ARGV: prefix, document id, generation, chunks. Records nothing for a deleted document; returns 1 if recorded. */
export const recordDocumentGenerationScript = `
local key = ARGV[1] .. 'document:' .. ARGV[2]
if redis.call('EXISTS', key) == 0 then return 0 end
redis.call('HSET', key .. ':generations', ARGV[3], ARGV[4])
return 1
`;

/**
 * KEYS: none. ARGV: prefix, then for each document: knowledge base id, id, createdAtMs, content
 * hash and a JSON object of its fields (values already JSON-encoded). A document whose content
 * hash its knowledge base already holds (earlier uploads, or earlier in the same call) is not
 * recorded. Returns one entry per document: {'created' | 'duplicate', field, value, ...} (the hash
 * of the recorded or the existing document); -1 when a knowledge base does not exist, -2 when a
 * document id is taken (nothing is written then).
 */
export const createDocumentsScript = `
${helpers}
local prefix = ARGV[1]
for i = 2, #ARGV, 5 do
  if redis.call('EXISTS', prefix .. 'kb:' .. ARGV[i]) == 0 then return -1 end
  if redis.call('EXISTS', prefix .. 'document:' .. ARGV[i + 1]) == 1 then return -2 end
end
local results = {}
for i = 2, #ARGV, 5 do
  local kb, id, score, content_hash = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  local hashes_key = prefix .. 'kb:' .. kb .. ':hashes'
  local existing = redis.call('HGET', hashes_key, content_hash)
  if existing and redis.call('EXISTS', prefix .. 'document:' .. existing) == 1 then
    local entry = redis.call('HGETALL', prefix .. 'document:' .. existing)
    table.insert(entry, 1, 'duplicate')
    table.insert(results, entry)
  else
    local fields = cjson.decode(ARGV[i + 4])
    local key = prefix .. 'document:' .. id
    for name, value in pairs(fields) do redis.call('HSET', key, name, value) end
    redis.call('HSET', key, 'createdAtMs', score)
    redis.call('HSET', hashes_key, content_hash, id)
    redis.call('ZADD', prefix .. 'kb:' .. kb .. ':documents', score, id)
    redis.call('ZADD', status_key(prefix, fields['status']), score, id)
    local entry = redis.call('HGETALL', key)
    table.insert(entry, 1, 'created')
    table.insert(results, entry)
  end
end
return results
`;

/**
 * KEYS: none. ARGV: prefix, document id, then field/value pairs (JSON values). Returns the updated
 * hash, or nil when the document does not exist (an update never recreates a deleted document).
 */
export const updateDocumentScript = `
${helpers}
local prefix = ARGV[1]
local id = ARGV[2]
local key = prefix .. 'document:' .. id
local old_status = redis.call('HGET', key, 'status')
if not old_status then return nil end
for i = 3, #ARGV, 2 do
  if ARGV[i] == 'status' then move_status(prefix, key, id, old_status, ARGV[i + 1]) end
  redis.call('HSET', key, ARGV[i], ARGV[i + 1])
end
return redis.call('HGETALL', key)
`;

/**
 * KEYS: none. ARGV: prefix, document id, then field/value pairs (JSON values) that mark it ready.
 * Applies them and, when the document replaces another of its knowledge base, deletes that one.
 * Returns {replaced id or '', field, value, ...}, or nil when the document does not exist.
 */
export const completeDocumentScript = `
${helpers}
local prefix = ARGV[1]
local id = ARGV[2]
local key = prefix .. 'document:' .. id
local old_status = redis.call('HGET', key, 'status')
if not old_status then return nil end
move_status(prefix, key, id, old_status, '"ready"')
for i = 3, #ARGV, 2 do redis.call('HSET', key, ARGV[i], ARGV[i + 1]) end
local replaced = ''
local replaces = cjson.decode(redis.call('HGET', key, 'replaces') or 'null')
local kb_json = redis.call('HGET', key, 'knowledgeBaseId')
if type(replaces) == 'string' and replaces ~= id
  and redis.call('HGET', prefix .. 'document:' .. replaces, 'knowledgeBaseId') == kb_json then
  delete_document(prefix, cjson.decode(kb_json), replaces)
  replaced = replaces
end
local result = redis.call('HGETALL', key)
table.insert(result, 1, replaced)
return result
`;

/**
 * KEYS: none. ARGV: prefix, document id, updatedAt (JSON). Moves a queued or processing document to
 * processing, counts an attempt and clears the error; returns the hash, or nil when the document
 * is gone or has ended.
 */
export const claimDocumentScript = `
${helpers}
local prefix = ARGV[1]
local id = ARGV[2]
local key = prefix .. 'document:' .. id
local status = redis.call('HGET', key, 'status')
if status ~= '"queued"' and status ~= '"processing"' then return nil end
move_status(prefix, key, id, status, '"processing"')
redis.call('HSET', key, 'status', '"processing"', 'updatedAt', ARGV[3], 'error', 'null')
redis.call('HINCRBY', key, 'attempts', 1)
return redis.call('HGETALL', key)
`;

/**
 * KEYS: none. ARGV: prefix, knowledge base id, document id, knowledge base id as stored (JSON).
 * Returns 1, or 0 when the document is not found in that knowledge base.
 */
export const deleteDocumentScript = `
${helpers}
local prefix = ARGV[1]
if redis.call('HGET', prefix .. 'document:' .. ARGV[3], 'knowledgeBaseId') ~= ARGV[4] then return 0 end
delete_document(prefix, ARGV[2], ARGV[3])
return 1
`;

/** KEYS: none. ARGV: prefix, knowledge base id. Removes it and its documents; returns 1, or 0 if absent. */
export const deleteKnowledgeBaseScript = `
${helpers}
local prefix = ARGV[1]
local kb = ARGV[2]
local kb_key = prefix .. 'kb:' .. kb
if redis.call('EXISTS', kb_key) == 0 then return 0 end
for _, id in ipairs(redis.call('ZRANGE', kb_key .. ':documents', 0, -1)) do delete_document(prefix, kb, id) end
redis.call('DEL', kb_key .. ':documents', kb_key .. ':hashes', kb_key)
redis.call('ZREM', prefix .. 'kbs', kb)
return 1
`;
