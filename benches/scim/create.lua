-- POST /Users with a unique userName per request: thread id + counter.
local counter = 0
local thread_id = 0
local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  thread_id = id
end

function request()
  counter = counter + 1
  local name = string.format("load-%d-%d@bench.example", thread_id, counter)
  local body = '{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"' .. name ..
    '","active":true,"name":{"givenName":"Load","familyName":"Test"},"emails":[{"value":"' .. name ..
    '","type":"work","primary":true}]}'
  return wrk.format("POST", "/scim/v2/Users", {["Content-Type"] = "application/scim+json",
    ["Authorization"] = "Bearer " .. os.getenv("SCIM_TOKEN")}, body)
end
