-- A link payment whose 3-D Secure challenge is never answered is declined by the money
-- worker: it finds them by age among the few still waiting.
CREATE INDEX link_operations_waiting ON link_operations (created_at) WHERE status = 'WAITING-AUTH';
