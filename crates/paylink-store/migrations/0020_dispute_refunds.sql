-- disputes.refund_id: the refund a refund decision made, until its answer is recorded (then
-- NULL again). Whoever records the acquirer's answer, the operator's request or, after that
-- process died, the money worker, finds the dispute by it and tells the payer (or opens the
-- dispute again when the refund was refused), once.
ALTER TABLE disputes ADD COLUMN refund_id TEXT;
CREATE INDEX disputes_refund ON disputes (refund_id) WHERE refund_id IS NOT NULL;
