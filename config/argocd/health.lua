-- Argo CD health check for tenantgen's GlobalTenantResource
-- (resource.customizations.health.addons.projectcapsule.dev_GlobalTenantResource
-- in argocd-cm). It reads the kstatus conditions the controller writes:
-- Stalled means Degraded, Cordoned Suspended, Ready True Healthy, anything
-- else (Reconciling, a status older than the spec) Progressing.
hs = { status = "Progressing", message = "Waiting for the tenantgen controller" }
if obj.status == nil or obj.status.conditions == nil then
  return hs
end
if obj.status.observedGeneration == nil or obj.status.observedGeneration < obj.metadata.generation then
  hs.message = "Waiting for the tenantgen controller to observe the new spec"
  return hs
end
local ready = nil
for _, c in ipairs(obj.status.conditions) do
  if c.type == "Stalled" and c.status == "True" then
    return { status = "Degraded", message = c.message }
  end
  if c.type == "Cordoned" and c.status == "True" then
    return { status = "Suspended", message = c.message }
  end
  if c.type == "Ready" then
    ready = c
  end
end
if ready ~= nil then
  hs.message = ready.message
  if ready.status == "True" then
    hs.status = "Healthy"
  end
end
return hs
