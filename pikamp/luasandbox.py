"""The Lua side of the script sandbox (pikamp.scripting runs it once per
interpreter): the redis library, Redis 7.0's allow list of globals behind a
read-only proxy (reading a missing global is an error, writing any is
"Attempt to modify a readonly table"), read-only library tables, loadstring
and load that refuse bytecode, the error handler that finds the script's
line, the restricted view a function library loads with, and the count hook
that hears SCRIPT KILL.
"""

# Run once per interpreter with the Python callbacks; returns the functions
# pikamp uses (compile, run, collect, load_library, call_function).
# Everything a script can reach is set up here; what the user's code sees as
# its globals is the read-only proxy P.
SETUP = r"""
local py_call, py_pcall, py_unwrap, py_log, py_sha1hex, py_setresp, py_acl_check, py_set_repl,
      version, version_num, bit, cjson, cmsgpack, struct, py_check, py_register = ...
local G = _G
local rawset0, rawget, setmetatable0, getmetatable, error, type, tostring, select, next =
      rawset, rawget, setmetatable, getmetatable, error, type, tostring, select, next
local pcall0, xpcall, loadstring, getfenv0, setfenv0 = pcall, xpcall, loadstring, getfenv, setfenv
local pairs, ipairs = pairs, ipairs
local dbg = debug

local protected = setmetatable0({}, {__mode = "k"})
local P = {}  -- what scripts see as their globals (made read-only below)
local function readonly() error("Attempt to modify a readonly table", 2) end
local function proxy(t)
  local p = setmetatable0({}, {__index = t, __newindex = readonly, __metatable = false})
  protected[p] = true
  return p
end

-- The redis library. call, pcall, acl_check_cmd and set_repl are Python
-- functions (C functions to Lua, as in Redis: a script's "return
-- redis.call(...)" keeps its frame, so an error knows the script's line);
-- an error they raise reaches Lua as a Python exception, unwrapped here.
local redis = {}
redis.call, redis.pcall = py_call, py_pcall
local function error_table(msg)
  -- As luaPushErrorBuff: "CODE message", with ERR when there is no code.
  if msg:sub(1, 1) == "-" then msg = msg:sub(2) end
  local code, text = msg:match("^(%S+) (.*)$")
  if code == nil then code, text = "ERR", msg end
  text = text:gsub("^[\r\n]+", ""):gsub("[\r\n]+$", "")
  return {err = code .. " " .. text}
end
redis.error_reply = function(...)
  local e = ...
  if select("#", ...) ~= 1 or type(e) ~= "string" then
    return {err = "ERR wrong number or type of arguments"}
  end
  return error_table(e)
end
redis.status_reply = function(...)
  local s = ...
  if select("#", ...) ~= 1 or type(s) ~= "string" then
    return {err = "ERR wrong number or type of arguments"}
  end
  return {ok = s}
end
redis.sha1hex, redis.log, redis.setresp = py_sha1hex, py_log, py_setresp
redis.set_repl = py_set_repl
redis.replicate_commands = function() return true end  -- Redis 7: always on
redis.acl_check_cmd = py_acl_check
-- Without a debugging session (SCRIPT DEBUG, which pikamp has not) these do nothing, as in Redis.
redis.breakpoint = function() return false end
redis.debug = function() end
redis.LOG_DEBUG, redis.LOG_VERBOSE, redis.LOG_NOTICE, redis.LOG_WARNING = 0, 1, 2, 3
redis.REPL_NONE, redis.REPL_AOF, redis.REPL_SLAVE, redis.REPL_REPLICA, redis.REPL_ALL = 0, 1, 2, 2, 3
redis.REDIS_VERSION, redis.REDIS_VERSION_NUM = version, version_num

-- As Redis: pcall hands back the message of a redis.call error, not its table.
local function pcall_result(ok, ...)
  if not ok then
    local e = ...
    if type(e) == "userdata" then e = py_unwrap(e) end
    if type(e) == "table" and type(rawget(e, "err")) == "string" then return false, rawget(e, "err") end
  end
  return ok, ...
end

-- What a script may see, as in Redis 7.0's allow lists.
local kept = {}
for _, name in ipairs({"xpcall", "tostring", "setmetatable", "next", "assert", "tonumber", "rawequal",
                       "collectgarbage", "getmetatable", "rawget", "coroutine", "type", "select",
                       "unpack", "gcinfo", "pairs", "loadstring", "ipairs", "_VERSION", "load",
                       "error", "newproxy", "string", "math", "table"}) do
  kept[name] = G[name]
end
for name in pairs(kept) do
  if type(kept[name]) == "table" then kept[name] = proxy(kept[name]) end
end
kept.bit, kept.cjson, kept.cmsgpack, kept.struct = proxy(bit), proxy(cjson), proxy(cmsgpack), proxy(struct)
kept.redis = proxy(redis)
kept.pcall = function(...) return pcall_result(pcall0(...)) end
kept.rawget = function(t, k)
  if t == P then t = kept end
  return rawget(t, k)
end
kept.rawset = function(t, k, v)
  if t == G or t == kept or protected[t] then error("Attempt to modify a readonly table", 0) end
  return rawset0(t, k, v)
end
kept.setmetatable = function(t, m)
  if t == G or t == kept or protected[t] then error("Attempt to modify a readonly table", 0) end
  return setmetatable0(t, m)
end
kept.getfenv = function(f)
  local e = getfenv0(f == nil and 2 or (type(f) == "number" and f > 0) and f + 1 or f)
  if e == G or e == kept then return P end
  return e
end
-- Code a script loads runs in the scripts' globals too, and is text: Redis'
-- Lua parses precompiled chunks (string.dump's) as text, which fails, as
-- here (bytecode can break out of any sandbox).
local function text_only(s, name)
  if s:byte(1) ~= 27 then return loadstring(s, name) end
  name = name or s
  if name:find("^[=@]") then  -- as luaO_chunkid names a chunk
    name = name:sub(2)
  else
    local line = name:match("^[^%z\n\r]*")
    name = '[string "' .. (#line > 45 and line:sub(1, 42) .. "..." or line) .. '"]'
  end
  return nil, name .. ":1: unexpected symbol near 'char(27)'"
end
kept.loadstring = function(s, name)
  if type(s) ~= "string" then return loadstring(s, name) end
  local f, e = text_only(s, name)
  if f ~= nil then setfenv0(f, P) end
  return f, e
end
kept.load = function(reader, name)
  if type(reader) ~= "function" then return load0(reader, name) end
  local parts = {}
  while true do
    local piece = reader()
    if piece == nil or piece == "" then break end
    if type(piece) ~= "string" then return nil, "reader function must return a string" end
    parts[#parts + 1] = piece
  end
  local f, e = text_only(table.concat(parts), name or "=(load)")
  if f ~= nil then setfenv0(f, P) end
  return f, e
end
kept.setfenv = function(f, t)
  if type(f) ~= "function" or dbg.getinfo(f, "S").what ~= "Lua" then
    error("Attempt to modify a readonly table", 2)
  end
  return setfenv0(f, t)
end


-- While a function library loads, its code sees only a few things (Redis
-- 7.0: register_function, log and the versions); its functions, once
-- called, see the globals of any script (but no KEYS/ARGV: they get theirs
-- as arguments).
local load_api = {register_function = py_register, log = redis.log, LOG_DEBUG = 0, LOG_VERBOSE = 1,
                  LOG_NOTICE = 2, LOG_WARNING = 3, REDIS_VERSION = version, REDIS_VERSION_NUM = version_num}
local function strict(t)  -- reading what is not there is an error, as for globals
  local p = setmetatable0({}, {
    __index = function(_, k)
      local v = t[k]
      if v == nil then error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2) end
      return v
    end,
    __newindex = readonly, __metatable = false})
  protected[p] = true
  return p
end
local loading = {redis = strict(load_api)}
local visible = kept
setmetatable0(P, {
  __index = function(_, k)
    local v = visible[k]
    if v == nil then error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2) end
    return v
  end,
  __newindex = readonly,
  __metatable = false,
})
protected[P] = true
kept._G = P
-- Methods on strings ("x"):upper() go through the read-only string table too.
local string_mt = getmetatable("")
string_mt.__index = kept.string
string_mt.__metatable = proxy(string_mt)

local function handler(err)
  local level, info = 2, nil
  while true do
    local i = dbg.getinfo(level, "Sl")
    if i == nil then break end
    if i.source == "@user_script" or i.source == "@user_function" then info = i break end
    level = level + 1
  end
  if type(err) == "userdata" then
    local where
    err, where = py_unwrap(err)
    -- A library's argument error names the caller's line, as luaL_error does.
    if where and info ~= nil then err = info.short_src .. ":" .. info.currentline .. ": " .. err end
  end
  if type(err) ~= "table" then err = {err = "ERR " .. tostring(err)} end
  if info ~= nil and not protected[err] then
    rawset0(err, "source", info.source)
    rawset0(err, "line", info.currentline)
  end
  return err
end

local function compile(body)
  local f, e = loadstring(body, "@user_script")
  if f == nil then return false, e end
  setfenv0(f, P)
  return true, f
end

-- KEYS and ARGV come as n, key..., arg... (cheaper than two tables from
-- Python), or, past what a call may pass, as two tables (n is then -1).
local function split(n, ...)
  if n < 0 then return ... end
  local all, keys, argv = {...}, {}, {}
  for i = 1, n do keys[i] = all[i] end
  for i = n + 1, #all do argv[i - n] = all[i] end
  return keys, argv
end

local function run(f, n, ...)
  local keys, argv = split(n, ...)
  rawset0(kept, "KEYS", keys)
  rawset0(kept, "ARGV", argv)
  return xpcall(f, handler)
end

-- Every 100000 instructions: a busy script is reported, SCRIPT KILL heard.
dbg.sethook(function() py_check() end, "", 100000)

local function load_library(code)
  local f, e = loadstring(code, "@user_function")
  if f == nil then return false, e, false end
  setfenv0(f, P)
  visible = loading
  local ok, err = xpcall(f, handler)
  visible = kept
  return ok, err, true
end

local function call_function(f, n, ...)
  local keys, args = split(n, ...)
  return xpcall(function() return f(keys, args) end, handler)
end

return compile, run, function() collectgarbage("collect") end, load_library, call_function
"""
