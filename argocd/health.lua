-- Argo CD health check for sagemaker.services.k8s.aws/HyperParameterTuningJob (hpo-operator or
-- ACK's sagemaker-controller). Argo CD runs it with gopher-lua (Lua 5.1): `obj` is the live object
-- and the script returns {status = ..., message = ...}.
--
--   no status, or status for an older generation  -> Progressing (the operator has not caught up)
--   ACK.Terminal=True, or job Failed               -> Degraded
--   job Completed                                  -> Healthy
--   job Stopped                                    -> Suspended
--   ACK.Recoverable=True                           -> Progressing, with the error's message
--   job InProgress or Stopping, or not created yet -> Progressing

local hs = {}

local function condition(kind)
  if obj.status.conditions == nil then
    return nil
  end
  for _, c in ipairs(obj.status.conditions) do
    if c.type == kind and c.status == "True" then
      return c
    end
  end
  return nil
end

local function text(value, fallback)
  if value == nil or value == "" then
    return fallback
  end
  return value
end

if obj.status == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to write status"
  return hs
end

local generation = obj.metadata and obj.metadata.generation
local observed = obj.status.observedGeneration
if generation ~= nil and observed ~= nil and observed < generation then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to observe generation " .. tostring(generation)
  return hs
end

local job = obj.status.hyperParameterTuningJobStatus
local terminal = condition("ACK.Terminal")
if terminal ~= nil then
  hs.status = "Degraded"
  hs.message = text(terminal.message, "The resource is in a terminal condition")
  return hs
end
if job == "Failed" then
  hs.status = "Degraded"
  hs.message = text(obj.status.failureReason, "The tuning job failed")
  return hs
end
if job == "Completed" then
  hs.status = "Healthy"
  hs.message = "The tuning job completed"
  return hs
end
if job == "Stopped" then
  hs.status = "Suspended"
  hs.message = "The tuning job was stopped"
  return hs
end

local recoverable = condition("ACK.Recoverable")
if recoverable ~= nil then
  hs.status = "Progressing"
  hs.message = text(recoverable.message, "Retrying after a recoverable error")
  return hs
end

hs.status = "Progressing"
if job == nil then
  hs.message = "Waiting for the tuning job to be created"
else
  hs.message = "The tuning job is " .. job
end
return hs
