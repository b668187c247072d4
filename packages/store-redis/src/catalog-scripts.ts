/**
 * The catalog's multi-key changes as Lua scripts, so that each one is atomic on the Redis server
 * (no other client runs between its reads and writes). Documents are hashes whose fields hold
 * JSON values (`"queued"`, `3`, `null`), which is why statuses are compared with their quotes.
 *
 * Index keys are derived inside the scripts from the key prefix passed as ARGV[1]: fine for a
 * standalone Redis (or a Sentinel setup), not for Redis Cluster, where every key a script touches
 * must be declared.
 */

/** The status index of a status given as stored (JSON). */
const helpers = `
local function status_key(prefix, status_json)
  return prefix .. 'status:' .. cjson.decode(status_json)
end
`;

/** KEYS: none. ARGV: prefix, id, name, createdAt, createdAtMs. Returns 1, or 0 if the id exists. */
export const createKnowledgeBaseScript = `
local key = ARGV[1] .. 'kb:' .. ARGV[2]
if redis.call('EXISTS', key) == 1 then return 0 end
redis.call('HSET', key, 'id', ARGV[2], 'name', ARGV[3], 'createdAt', ARGV[4], 'generation', '1')
redis.call('ZADD', ARGV[1] .. 'kbs', ARGV[5], ARGV[2])
return 1
`;

/** KEYS: none. ARGV: prefix, knowledge base id, generation. Returns 1, or 0 if it does not exist. */
export const setGenerationScript = `
local key = ARGV[1] .. 'kb:' .. ARGV[2]
if redis.call('EXISTS', key) == 0 then return 0 end
redis.call('HSET', key, 'generation', ARGV[3])
return 1
`;

/**
 * KEYS: none. ARGV: prefix, then for each document: knowledge base id, id, createdAtMs and a JSON
 * object of its fields (values already JSON-encoded). Returns 1; -1 when a knowledge base does not
 * exist, -2 when a document id is taken (nothing is written then).
 */
export const createDocumentsScript = `
${helpers}
local prefix = ARGV[1]
for i = 2, #ARGV, 4 do
  if redis.call('EXISTS', prefix .. 'kb:' .. ARGV[i]) == 0 then return -1 end
  if redis.call('EXISTS', prefix .. 'document:' .. ARGV[i + 1]) == 1 then return -2 end
end
for i = 2, #ARGV, 4 do
  local kb = ARGV[i]
  local id = ARGV[i + 1]
  local score = ARGV[i + 2]
  local fields = cjson.decode(ARGV[i + 3])
  local key = prefix .. 'document:' .. id
  for name, value in pairs(fields) do redis.call('HSET', key, name, value) end
  redis.call('HSET', key, 'createdAtMs', score)
  redis.call('ZADD', prefix .. 'kb:' .. kb .. ':documents', score, id)
  redis.call('ZADD', status_key(prefix, fields['status']), score, id)
end
return 1
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
  if ARGV[i] == 'status' and ARGV[i + 1] ~= old_status then
    local score = redis.call('HGET', key, 'createdAtMs')
    redis.call('ZREM', status_key(prefix, old_status), id)
    redis.call('ZADD', status_key(prefix, ARGV[i + 1]), score, id)
  end
  redis.call('HSET', key, ARGV[i], ARGV[i + 1])
end
return redis.call('HGETALL', key)
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
if status == '"queued"' then
  local score = redis.call('HGET', key, 'createdAtMs')
  redis.call('ZREM', status_key(prefix, status), id)
  redis.call('ZADD', status_key(prefix, '"processing"'), score, id)
end
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
local id = ARGV[3]
local key = prefix .. 'document:' .. id
if redis.call('HGET', key, 'knowledgeBaseId') ~= ARGV[4] then return 0 end
redis.call('ZREM', status_key(prefix, redis.call('HGET', key, 'status')), id)
redis.call('ZREM', prefix .. 'kb:' .. ARGV[2] .. ':documents', id)
redis.call('DEL', key)
return 1
`;

/** KEYS: none. ARGV: prefix, knowledge base id. Removes it and its documents; returns 1, or 0 if absent. */
export const deleteKnowledgeBaseScript = `
${helpers}
local prefix = ARGV[1]
local kb = ARGV[2]
local kb_key = prefix .. 'kb:' .. kb
if redis.call('EXISTS', kb_key) == 0 then return 0 end
local documents_key = kb_key .. ':documents'
for _, id in ipairs(redis.call('ZRANGE', documents_key, 0, -1)) do
  local key = prefix .. 'document:' .. id
  local status = redis.call('HGET', key, 'status')
  if status then redis.call('ZREM', status_key(prefix, status), id) end
  redis.call('DEL', key)
end
redis.call('DEL', documents_key, kb_key)
redis.call('ZREM', prefix .. 'kbs', kb)
return 1
`;
