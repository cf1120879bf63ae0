-- Argo CD health of a qiskit-argo.io/QiskitBudget (Lua 5.1, as embedded by Argo CD).
-- The controller owns .status (the period's accounts); this script only reads it:
--   no status yet / stale observedGeneration -> Progressing
--   Ready False (e.g. an unknown time zone) -> Degraded   Exhausted True -> Degraded
--   otherwise -> Healthy (NearlyExhausted shows in the message)
local hs = {}
local status = obj.status

if status == nil or status.conditions == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the controller to compute the budget's accounts"
  return hs
end

local generation = obj.metadata and obj.metadata.generation
local observed = status.observedGeneration
if generation ~= nil and (observed == nil or observed < generation) then
  hs.status = "Progressing"
  hs.message = "Waiting for the controller to see generation " .. tostring(generation)
  return hs
end

local function condition(kind)
  for _, c in ipairs(status.conditions) do
    if c.type == kind then
      return c
    end
  end
  return nil
end

local function describe(c, default)
  if c ~= nil and c.message ~= nil and c.message ~= "" then
    return c.message
  end
  if status.message ~= nil and status.message ~= "" then
    return status.message
  end
  return default
end

local ready = condition("Ready")
local exhausted = condition("Exhausted")
local nearly = condition("NearlyExhausted")
if ready ~= nil and ready.status == "False" then
  hs.status = "Degraded"
  hs.message = describe(ready, "QiskitBudget cannot be applied; every job is refused")
elseif exhausted ~= nil and exhausted.status == "True" then
  hs.status = "Degraded"
  hs.message = "Exhausted: " .. describe(exhausted, "nothing is left; new jobs fail with BudgetExceeded")
elseif nearly ~= nil and nearly.status == "True" then
  hs.status = "Healthy"
  hs.message = "Nearly exhausted: " .. describe(nearly, "most of a limit is spent or reserved")
else
  hs.status = "Healthy"
  hs.message = describe(nil, "QiskitBudget has room")
end
return hs
