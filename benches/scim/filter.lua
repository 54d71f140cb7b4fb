-- GET /Users?filter=userName eq "…" for random existing users (names listed in NAMES_FILE).
local names = {}
for line in io.lines(os.getenv("NAMES_FILE")) do names[#names + 1] = line end

function request()
  local name = names[math.random(#names)]
  local path = '/scim/v2/Users?filter=userName%20eq%20%22' .. name:gsub("@", "%%40") .. '%22'
  return wrk.format("GET", path, {["Authorization"] = "Bearer " .. os.getenv("SCIM_TOKEN")})
end
