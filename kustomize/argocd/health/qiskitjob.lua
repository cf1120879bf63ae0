-- Argo CD health of a qiskit-argo.io/QiskitJob (Lua 5.1, as embedded by Argo CD).
-- The controller owns .status; this script only reads it:
--   no status yet / stale observedGeneration       -> Progressing (the controller has not caught up)
--   Pending, Validating, Scheduling, Running       -> Progressing
--   Succeeded -> Healthy   Failed -> Degraded   Suspended -> Suspended   anything else -> Unknown
local hs = {}
local status = obj.status

if status == nil or status.phase == nil or status.phase == "" then
  hs.status = "Progressing"
  hs.message = "Waiting for the qiskit-argo controller to pick up the job"
  return hs
end

local generation = obj.metadata and obj.metadata.generation
local observed = status.observedGeneration
if generation ~= nil and (observed == nil or observed < generation) then
  hs.status = "Progressing"
  hs.message = "Waiting for the controller to observe generation " .. tostring(generation)
    .. " (last observed: " .. (observed ~= nil and tostring(observed) or "none") .. ")"
  return hs
end

local phase = status.phase
local progressing = { Pending = true, Validating = true, Scheduling = true, Running = true }

local function describe(default)
  if status.message ~= nil and status.message ~= "" then
    return status.message
  end
  return default
end

if phase == "Succeeded" then
  hs.status = "Healthy"
  hs.message = describe("QiskitJob succeeded")
elseif phase == "Failed" then
  hs.status = "Degraded"
  hs.message = describe("QiskitJob failed")
elseif phase == "Suspended" then
  hs.status = "Suspended"
  hs.message = describe("QiskitJob is suspended; set spec.suspend to false to resume")
elseif progressing[phase] then
  hs.status = "Progressing"
  hs.message = describe("QiskitJob is " .. phase)
else
  hs.status = "Unknown"
  hs.message = "Unknown QiskitJob phase: " .. tostring(phase)
end
return hs
