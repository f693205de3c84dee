-- The gateway's per-request access checks, in nginx's shared memory (docs/gateway.md).
--
-- Why here and not in nginx's configuration: access changes (a revocation, a lock, a device
-- turning non-compliant) must reach every worker at once without a reload. A reload drops the
-- fleet's idle connections, and for a moment after it the old workers still accept connections
-- and answer from what they knew (issue 10, item 7). Shared memory zones are kept across reloads
-- and seen by old and new workers alike.
--
-- Two zones:
--
-- gm_access, written only by the control plane (through M.control) and never evicted (every
-- write is a safe_* call that fails instead of making room):
--   "r:<serial>"  why that certificate is refused ("revoked"). Checked on every request that
--                 presents a certificate, because a resumed TLS session skips the handshake,
--                 and with it the CRL.
--   "v:<serial>"  the certificate's access version, bumped when its device or person loses
--                 access. Expires after VERSION_TTL: far longer than any decision it guards.
--   "e"           the epoch, bumped when routes change (and as a fallback: see bump).
--   "g"           the database's desired-state generation (migration 0011), as the control plane
--                 last read it; -1 until it has told this nginx (nothing unchanged is answered).
--
-- gm_decisions, a cache (least recently used entries make room):
--   "<route>|<serial>"  the control plane's last answer for that certificate and route, tagged
--                 with the epoch and version it was asked under. An answer whose tag is no
--                 longer current is never used, and one asked under an old tag is never stored:
--                 so no decision made before an access change outlives it, in any worker.
--
-- gm_documents, a cache (least recently used entries make room):
--   "<serial>"    "<tag>\n<generation>\n<device id>\n<ETag>": the portal's last answer (200 or
--                 304) to that certificate's desired-state fetch. nginx answers 304 itself only
--                 for that device's own path, an If-None-Match equal to that ETag, and while
--                 tag and generation are still current; it expires when the portal would sign
--                 a new document (or the certificate expires). See M.unchanged_document.
--
-- Serials are nginx's $ssl_client_serial: upper-case hex, two digits per byte.

local M = {}

local access = ngx.shared.gm_access
local decisions = ngx.shared.gm_decisions
local documents = ngx.shared.gm_documents
local capture = ngx.location.capture
local find, sub, byte = string.find, string.sub, string.byte
local concat = table.concat

local VERSION_TTL = 300
local settings = { allowed_ttl = 5, refused_ttl = 1 }

-- The order of a cached decision's fields after its tag; also the nginx variables they fill.
local FIELDS = {
    "gm_code", "gm_reason", "gm_route", "gm_person", "gm_groups", "gm_device", "gm_tenant", "gm_assertion",
}
local HEADERS = {
    gm_code = "govmobile-code",
    gm_reason = "govmobile-reason",
    gm_route = "govmobile-route",
    gm_person = "govmobile-person",
    gm_groups = "govmobile-groups",
    gm_device = "govmobile-device",
    gm_tenant = "govmobile-tenant",
    gm_assertion = "govmobile-assertion",
}

--- Called from init_by_lua with the rendered settings; the epoch exists from the start, so that
--- bumping it never needs memory.
function M.configure(options)
    settings.allowed_ttl = options.allowed_ttl
    settings.refused_ttl = options.refused_ttl
    access:safe_add("e", 0)
    access:safe_add("g", -1)
end

local function tag_of(serial)
    return (access:get("e") or 0) .. "." .. (access:get("v:" .. serial) or 0)
end

local function refuse_certificate(reason)
    local body = '{"error":"certificate_refused","message":"the device certificate was refused: certificate '
        .. reason .. '"}'
    ngx.var.gm_code = "certificate_" .. reason
    ngx.status = 401
    ngx.header["Content-Type"] = "application/json"
    ngx.header["Content-Length"] = #body
    ngx.print(body)
    return ngx.exit(ngx.HTTP_OK)
end

--- Every request with a client certificate: refused certificates go no further, however the TLS
--- session was made.
function M.check_certificate()
    local reason = access:get("r:" .. ngx.var.ssl_client_serial)
    if reason then
        return refuse_certificate(reason)
    end
end

-- Fill the nginx variables from a cached decision; refuse with 403 when it says so.
local function apply(value, from)
    local var = ngx.var
    local status = sub(value, from, from + 2)
    local at = from + 4
    for i = 1, #FIELDS do
        local stop = find(value, "\n", at, true)
        var[FIELDS[i]] = sub(value, at, (stop or 0) - 1)
        if not stop then
            break
        end
        at = stop + 1
    end
    if status ~= "200" then
        return ngx.exit(ngx.HTTP_FORBIDDEN) -- error_page 403 = @gm_refused says why
    end
end

-- Keep a decision, unless access changed while it was being made. Two requests can be decided
-- at once across an access change, before the control plane has bumped the version; the one
-- that read the older state must not have the last word. So an allowed answer never replaces a
-- refusal held under the same tag, and one that took longer than a refusal is held is not kept
-- at all (a refusal given since may have expired already).
local function store(key, serial, tag, status, value, asked_at)
    if tag_of(serial) ~= tag then
        return
    end
    if status == 200 then
        if ngx.now() - asked_at >= settings.refused_ttl then
            return
        end
        local ok, err = decisions:add(key, value, settings.allowed_ttl)
        if not ok and err == "exists" then
            local held = decisions:get(key)
            if held and sub(held, 1, #tag + 4) == tag .. "\n403" then
                return
            end
            decisions:set(key, value, settings.allowed_ttl)
        end
    else
        decisions:set(key, value, settings.refused_ttl)
    end
end

--- A request to an intranet app: the refused set, then the cached decision, else the control plane.
function M.authorize(route)
    local serial = ngx.var.ssl_client_serial
    local refused = access:get("r:" .. serial)
    if refused then
        return refuse_certificate(refused)
    end
    local tag = tag_of(serial)
    local key = route .. "|" .. serial
    local held = decisions:get(key)
    if held and sub(held, 1, #tag) == tag and byte(held, #tag + 1) == 10 then
        return apply(held, #tag + 2)
    end
    local asked_at = ngx.now()
    local answer = capture("/_gm/authorize/" .. route)
    local status = answer.status
    if status ~= 200 and status ~= 403 then
        ngx.log(ngx.ERR, "the control plane answered ", status, " to an authorization request")
        return ngx.exit(ngx.HTTP_INTERNAL_SERVER_ERROR)
    end
    local headers = {}
    for name, value in pairs(answer.header) do
        headers[string.lower(name)] = value
    end
    local parts = { tag, status }
    for i = 1, #FIELDS do
        local value = headers[HEADERS[FIELDS[i]]] or ""
        if type(value) == "table" then
            value = value[1]
        end
        parts[i + 2] = value
    end
    local value = concat(parts, "\n")
    store(key, serial, tag, status, value, asked_at)
    return apply(value, #tag + 2)
end

local DOCUMENT_PATH = "/portal/v1/devices/"
local DOCUMENT_LEAF = "/desired-state"

-- The held answer for this certificate, split: tag, generation, device id, ETag.
local function held_document(serial)
    local held = documents:get(serial)
    if not held then
        return nil
    end
    local tag, generation, device, etag = held:match("^([^\n]+)\n([^\n]+)\n([^\n]+)\n([^\n]+)$")
    return tag, tonumber(generation), device, etag
end

--- A desired-state fetch (access phase): refused certificates go no further; an unchanged
--- document is answered 304 here; everything else goes to the portal, which decides as before.
function M.unchanged_document()
    local var = ngx.var
    local serial = var.ssl_client_serial
    local refused = access:get("r:" .. serial)
    if refused then
        return refuse_certificate(refused)
    end
    local tag = tag_of(serial)
    -- What the answer is stored under (M.keep_document): the access state before the portal was asked.
    ngx.ctx.gm_document_tag = tag
    local generation = access:get("g")
    if not generation or generation < 0 or ngx.req.get_method() ~= "GET" then
        return
    end
    local held_tag, held_generation, device, etag = held_document(serial)
    if held_tag ~= tag or held_generation ~= generation then
        return
    end
    -- Exactly the device's own path (no query, no other spelling), and exactly one If-None-Match
    -- equal to the ETag: anything else is the portal's to judge.
    if var.request_uri ~= DOCUMENT_PATH .. device .. DOCUMENT_LEAF then
        return
    end
    local headers = ngx.req.get_headers(64)
    if headers["if-none-match"] ~= etag then
        return
    end
    -- A device that must see every change committed so far (it acts on an admin's command, or
    -- its user asked) says so with Cache-Control: no-cache, which the portal itself answers
    -- (RFC 9111 5.2.1.4); its answer is then held as usual.
    local control = headers["cache-control"]
    if control and (type(control) ~= "string" or find(control:lower(), "no-cache", 1, true)) then
        return
    end
    var.gm_code = "unchanged"
    var.gm_device = device
    ngx.status = 304
    ngx.header["ETag"] = etag
    ngx.header["Cache-Control"] = "no-store"
    ngx.send_headers()
    return ngx.exit(ngx.HTTP_OK)
end

--- The portal's answer to a desired-state fetch (header filter): keep what the next unchanged
--- fetch needs, unless the certificate's access changed while the portal was asked.
function M.keep_document()
    local status = ngx.status
    local value = ngx.var.upstream_http_govmobile_document_cache
    if (status ~= 200 and status ~= 304) or not value then
        return
    end
    local device, generation, seconds = value:match("^([0-9A-Za-z-]+) ([0-9]+) ([0-9]+)$")
    local etag = ngx.header["ETag"]
    local tag = ngx.ctx.gm_document_tag
    seconds = tonumber(seconds)
    if not device or not seconds or seconds < 1 or type(etag) ~= "string" or not etag:match('^"[0-9]+"$') then
        return
    end
    local serial = ngx.var.ssl_client_serial
    if not tag or tag_of(serial) ~= tag or ngx.var.request_uri ~= DOCUMENT_PATH .. device .. DOCUMENT_LEAF then
        return
    end
    generation = tonumber(generation)
    -- Two fetches of one device at once: the answer made under the older state never has the last word.
    local held_tag, held_generation, _, held_etag = held_document(serial)
    if held_tag == tag and held_generation and (held_generation > generation
            or (held_generation == generation and tonumber(held_etag:sub(2, -2)) > tonumber(etag:sub(2, -2)))) then
        return
    end
    documents:set(serial, concat({ tag, generation, device, etag }, "\n"), seconds)
end

-- Commands from the control plane, one a line:
--   refuse <serial> <reason> | forget <serial> | bump <serial> | epoch | documents <generation>
-- Answers "ok <lines>", or 507 with the lines that could not be applied for want of memory.
local function bump(serial)
    local key = "v:" .. serial
    local version = access:incr(key, 1)
    if version then
        return access:expire(key, VERSION_TTL)
    end
    local ok = access:safe_add(key, 1, VERSION_TTL)
    if ok then
        return true
    end
    -- No room for a version: forget every cached decision instead (the epoch always exists).
    access:incr("e", 1)
    return true
end

local COMMANDS = {
    refuse = function(serial, reason)
        return access:safe_set("r:" .. serial, reason)
    end,
    forget = function(serial)
        access:delete("r:" .. serial)
        return true
    end,
    bump = bump,
    epoch = function()
        return access:incr("e", 1)
    end,
    documents = function(generation)
        -- "g" exists from the start, so this needs no room; if it failed all the same, no held
        -- document may answer any more (the epoch always exists).
        local ok = access:replace("g", tonumber(generation))
        if not ok then
            access:incr("e", 1)
        end
        return ok
    end,
}

--- The control socket's handler (a unix socket in the run directory; see nginx.conf.j2).
function M.control()
    if ngx.req.get_method() == "GET" then
        ngx.header["Content-Type"] = "application/json"
        return ngx.print('{"epoch":', access:get("e") or 0, ',"access_free_bytes":', access:free_space(),
            ',"access_bytes":', access:capacity(), ',"decisions_free_bytes":', decisions:free_space(),
            ',"decisions_bytes":', decisions:capacity(), '}')
    end
    ngx.req.read_body()
    local body = ngx.req.get_body_data() or ""
    local applied, failed = 0, {}
    for line in string.gmatch(body, "[^\n]+") do
        local verb, serial, reason = line:match("^(%l+) ?([%x]*) ?([%l_]*)$")
        local command = verb and COMMANDS[verb]
        if not command then
            ngx.status = 400
            return ngx.say("unknown command: ", line)
        end
        if command(serial, reason) then
            applied = applied + 1
        else
            failed[#failed + 1] = line
        end
    end
    if #failed > 0 then
        ngx.status = 507
        return ngx.say(concat(failed, "\n"))
    end
    return ngx.say("ok ", applied)
end

return M
