-- Argo CD health of a qiskit-argo.io/QiskitBackend (Lua 5.1, as embedded by Argo CD).
-- The controller owns .status (from the backend's probe); this script only reads it:
--   no status yet / stale observedGeneration -> Progressing (not probed since the last change)
--   Pending -> Progressing   Ready -> Healthy   NotReady -> Degraded   Disabled -> Suspended
--   anything else -> Unknown
local hs = {}
local status = obj.status

if status == nil or status.phase == nil or status.phase == "" then
  hs.status = "Progressing"
  hs.message = "Waiting for the first probe of the backend"
  return hs
end

local generation = obj.metadata and obj.metadata.generation
local observed = status.observedGeneration
if generation ~= nil and (observed == nil or observed < generation) then
  hs.status = "Progressing"
  hs.message = "Waiting for a probe of generation " .. tostring(generation)
  return hs
end

local function describe(default)
  if status.message ~= nil and status.message ~= "" then
    return status.message
  end
  return default
end

local phase = status.phase
if phase == "Ready" then
  hs.status = "Healthy"
  hs.message = describe("QiskitBackend is ready")
elseif phase == "NotReady" then
  hs.status = "Degraded"
  hs.message = describe("QiskitBackend is not ready")
elseif phase == "Disabled" then
  hs.status = "Suspended"
  hs.message = describe("QiskitBackend is disabled; set spec.enabled to true to use it")
elseif phase == "Pending" then
  hs.status = "Progressing"
  hs.message = describe("QiskitBackend is being probed")
else
  hs.status = "Unknown"
  hs.message = "Unknown QiskitBackend phase: " .. tostring(phase)
end
return hs
