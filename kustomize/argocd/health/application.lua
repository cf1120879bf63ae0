-- Argo CD health of an argoproj.io/Application (Lua 5.1). Argo CD no longer assesses child
-- Applications by default; the qiskit-argo app-of-apps needs it so that the jobs Application
-- (sync wave 1) waits until the platform Application (CRDs, WorkflowTemplates, controller) is Healthy.
local hs = {}
hs.status = "Progressing"
hs.message = ""
if obj.status ~= nil and obj.status.health ~= nil then
  hs.status = obj.status.health.status
  if obj.status.health.message ~= nil then
    hs.message = obj.status.health.message
  end
end
return hs
