-- PATCH active on existing users (ids listed in IDS_FILE), alternating false/true on each pass
-- over the list so every request is a real change.
local ids = {}
for line in io.lines(os.getenv("IDS_FILE")) do ids[#ids + 1] = line end
local n = 0

function init(args)
  n = math.random(#ids)
end

function request()
  n = n + 1
  local id = ids[(n % #ids) + 1]
  local active = (math.floor(n / #ids) % 2 == 1) and "true" or "false"
  local body = '{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":' ..
    '[{"op":"replace","path":"active","value":' .. active .. '}]}'
  return wrk.format("PATCH", "/scim/v2/Users/" .. id, {["Content-Type"] = "application/scim+json",
    ["Authorization"] = "Bearer " .. os.getenv("SCIM_TOKEN")}, body)
end
