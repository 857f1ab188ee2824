-- Refunds are sent to the acquirer after their money is taken: PROCESS until it answers,
-- then SUCCESS or FAIL (with its reason). process_at is the lease of whoever is asking.
ALTER TABLE refunds ADD COLUMN error_message TEXT;
ALTER TABLE refunds ADD COLUMN process_at BIGINT;
CREATE INDEX refunds_processing ON refunds (status, process_at);
