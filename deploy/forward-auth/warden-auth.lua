-- Warden forward auth for HAProxy (2.6 or later, built with Lua): HAProxy has
-- no auth_request, so this action asks Warden's GET /v1/verify about the
-- request with HAProxy's own HTTP client (core.httpclient) and leaves the
-- answer in txn variables; haproxy.cfg next to this file decides with them.
-- Load it from haproxy.cfg's global section and call it per request:
--   lua-load-per-thread /etc/haproxy/warden-auth.lua
--   http-request lua.warden_verify "http://127.0.0.1:8080/v1/verify"
-- The tests in crates/server/tests/api/forward_auth.rs run this very file.
--
-- Variables set (all txn scope; unset when Warden did not send the header):
--   txn.warden_status    Warden's status code; left unset when the check
--                        could not finish (the action failed), which
--                        haproxy.cfg must treat as a denial
--   txn.warden_user, txn.warden_session, txn.warden_roles,
--   txn.warden_acr, txn.warden_amr                          the identity
--   txn.warden_location  where a 3xx answer redirects to
--   txn.warden_www_authenticate, txn.warden_body   the denial to pass on

-- Not copied to Warden: hop-by-hop and body headers describe the client's
-- connection and payload, not the request Warden judges (a GET without a
-- body); HAProxy's client sets Host for Warden's address and cannot
-- decompress, so Accept-Encoding is left out.
local skipped = {
    ["connection"] = true,
    ["keep-alive"] = true,
    ["proxy-connection"] = true,
    ["proxy-authorization"] = true,
    ["te"] = true,
    ["trailer"] = true,
    ["transfer-encoding"] = true,
    ["upgrade"] = true,
    ["content-length"] = true,
    ["content-type"] = true,
    ["content-encoding"] = true,
    ["expect"] = true,
    ["host"] = true,
    ["accept-encoding"] = true,
    -- Warden refuses (400) a request whose original-request headers
    -- disagree, and a client must never choose the request Warden judges:
    -- only the values set below reach it.
    ["x-original-uri"] = true,
    ["x-original-method"] = true,
    ["x-original-url"] = true,
    ["x-forwarded-uri"] = true,
    ["x-forwarded-method"] = true,
    -- Overwritten below, as warden gateway does, so a client cannot pick
    -- the host a sign-in redirect returns to.
    ["x-forwarded-host"] = true,
    ["x-forwarded-proto"] = true,
}

-- A problem+json body is a few hundred bytes; the cap keeps the denial
-- HAProxy builds from it within one buffer (tune.bufsize).
local max_body = 4096

-- Per try: Warden answers in milliseconds. HAProxy 2.6's client makes up to
-- four tries (its fixed retries), so a hung Warden holds the client about
-- 4 s before the request is denied; a refused connection about 3 s.
local timeout_ms = 1000

-- First value of a header in one of HAProxy's header tables, whose value
-- lists start at index 0.
local function first(headers, name)
    local values = headers[name]
    if values == nil then
        return nil
    end
    local value = values[0]
    if value == nil or value == "" then
        return nil
    end
    return value
end

local function verify(txn, url)
    local outgoing = {}
    for name, values in pairs(txn.http:req_get_headers()) do
        if not skipped[name] then
            local list = {}
            for i = 0, #values do
                list[#list + 1] = values[i]
            end
            outgoing[name] = list
        end
    end
    -- An HTTP/2 client's cookies come as several fields; over HTTP/1.1 they
    -- are one header (RFC 9113, 8.2.3).
    if outgoing["cookie"] ~= nil then
        outgoing["cookie"] = { table.concat(outgoing["cookie"], "; ") }
    end
    outgoing["x-original-uri"] = { txn.sf:pathq() }
    outgoing["x-original-method"] = { txn.sf:method() }
    -- Fetches of booleans come back as 0 or 1, both true in Lua.
    outgoing["x-forwarded-proto"] = { txn.sf:ssl_fc() == "1" and "https" or "http" }
    local host = txn.sf:req_fhdr("host")
    if host ~= nil and host ~= "" then
        outgoing["x-forwarded-host"] = { host }
    end
    -- The client's list is kept and the peer appended, so a Warden that
    -- lists HAProxy in trusted_proxies takes the peer.
    local chain = outgoing["x-forwarded-for"] or {}
    chain[#chain + 1] = txn.sf:src()
    outgoing["x-forwarded-for"] = { table.concat(chain, ", ") }

    local response = core.httpclient():get{
        url = url,
        headers = outgoing,
        timeout = timeout_ms,
    }

    -- HAProxy's client reports a failed connection or a timeout as status
    -- 0 or as its own 5xx; both end up denied, as any status haproxy.cfg
    -- does not expect.
    local status = tonumber(response and response.status) or 0
    local headers = (response and response.headers) or {}
    local function keep(var, name)
        local value = first(headers, name)
        if value ~= nil then
            txn:set_var(var, value)
        end
    end
    if status == 200 then
        keep("txn.warden_user", "x-warden-user")
        keep("txn.warden_session", "x-warden-session")
        keep("txn.warden_roles", "x-warden-roles")
        keep("txn.warden_acr", "x-warden-acr")
        keep("txn.warden_amr", "x-warden-amr")
        keep("txn.warden_kind", "x-warden-kind")
        keep("txn.warden_client", "x-warden-client")
        keep("txn.warden_scope", "x-warden-scope")
    elseif status >= 300 and status < 400 then
        keep("txn.warden_location", "location")
    else
        keep("txn.warden_www_authenticate", "www-authenticate")
        local body = response and response.body
        if body ~= nil and body ~= "" and #body <= max_body then
            txn:set_var("txn.warden_body", body)
        end
    end
    -- Last, so that an error above leaves the status unset: denied.
    txn:set_var("txn.warden_status", status)
end

core.register_action("warden_verify", { "http-req" }, verify, 1)
