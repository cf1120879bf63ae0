-- Argo CD health of a qiskit-argo.io/QiskitSession (Lua 5.1, as embedded by Argo CD).
-- The controller owns .status (from the session's open and close Workflows); this script only reads it:
--   no status yet / stale observedGeneration -> Progressing
--   Pending, Opening, Closing -> Progressing   Ready -> Healthy
--   Closed, Failed -> Degraded (jobs naming it fail)   anything else -> Unknown
local hs = {}
local status = obj.status

if status == nil or status.phase == nil or status.phase == "" then
  hs.status = "Progressing"
  hs.message = "Waiting for the session to be opened"
  return hs
end

local generation = obj.metadata and obj.metadata.generation
local observed = status.observedGeneration
if generation ~= nil and (observed == nil or observed < generation) then
  hs.status = "Progressing"
  hs.message = "Waiting for the controller to see generation " .. tostring(generation)
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
  hs.message = describe("QiskitSession is open")
elseif phase == "Pending" or phase == "Opening" then
  hs.status = "Progressing"
  hs.message = describe("QiskitSession is being opened")
elseif phase == "Closing" then
  hs.status = "Progressing"
  hs.message = describe("QiskitSession is being closed")
elseif phase == "Closed" then
  hs.status = "Degraded"
  hs.message = describe("QiskitSession is closed; jobs naming it fail, create a new QiskitSession")
elseif phase == "Failed" then
  hs.status = "Degraded"
  hs.message = describe("QiskitSession could not be opened")
else
  hs.status = "Unknown"
  hs.message = "Unknown QiskitSession phase: " .. tostring(phase)
end
return hs
