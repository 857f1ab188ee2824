-- bills.charging_payment / charging_until: the payment whose charge holds a NORMAL bill, and
-- until when. A charge of a NORMAL bill holds it while the acquirer takes the money, so a
-- second payer's charge is refused before any money is taken, instead of being taken and then
-- refused by the double-payment guard. The payment's record lets it go; a holder that died
-- lets it go when `charging_until` passes.
ALTER TABLE bills ADD COLUMN charging_payment TEXT;
ALTER TABLE bills ADD COLUMN charging_until BIGINT;
